"""The reports notebook: several notebooks (tabs), each an ordered list of
cells edited in place — read-only SQL, built-in reports and markdown text.

A cell runs on its own (Shift+Enter, a fetch() POST that saves and runs that
cell and answers the cell's output as HTML from ``_cell_output.html``, the
same partial the page renders), so every other cell keeps its output. The
notebook's parameters (``:since`` …) live in the page's query string: a view
has a stable URL, and a cell's is that plus ``#cell-<id>``. Markdown is
rendered here, with raw HTML off: what a cell holds shows as text. Admins
only: cell SQL runs as written (as the notebook's read-only account).
A notebook goes out and comes in as one JSON file (``bridge.notebook_files``,
which the CLI uses too); each cell shows the URL a spreadsheet fetches its
result from (``/api/v1/reports/<cell>.csv``, with an admin's API key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select

from bridge import notebook_files, notebooks, reports
from bridge.errors import ReportError
from bridge.models import ReportCell, Sim

from . import charts
from .auth import SecureView
from .common import db, report_engine
from .spreadsheet import cell_csv

# CommonMark with raw HTML off: "<script>" in a cell is text. Links keep
# markdown-it's own check (no javascript: or data: URLs).
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
DEFAULT_TITLE = {"sql": "New query", "markdown": "", "builtin": "Report"}
NEW_SQL = "SELECT COUNT(*) AS messages FROM messages"
NEW_MARKDOWN = "Notes: *what this notebook is for*."
# Stands in the spreadsheet URL a cell shows: the page never has the key itself.
KEY_PLACEHOLDER = "YOUR_API_KEY"


def render_markdown(text: str) -> Markup:
    # markdown-it escapes every character of the source it does not turn
    # into markup itself (html disabled), so its output is safe as HTML.
    return Markup(_MARKDOWN.render(text or ""))


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def cell_output(cell: ReportCell, result: reports.CellResult | None, params: Mapping[str, str]) -> dict:
    """What ``_cell_output.html`` shows of a run (None: not run yet)."""
    if cell.kind == "markdown":
        return {"markdown": render_markdown(cell.query)}
    if result is None:
        return {"result": None}
    chart = None
    numeric: list[str] = []
    if not result.error and result.columns:
        numeric = charts.numeric_columns(result.columns, result.rows)
        if cell.chart:
            chart = charts.from_table(
                cell.chart,
                result.columns,
                result.rows,
                x=cell.chart_x,
                y=_split(cell.chart_y),
                y2=_split(cell.chart_y2),
            )
    used = {p.name: params.get(p.name, "") for p in reports.cell_parameters(cell)}
    x: str | None = cell.chart_x if cell.chart_x in result.columns else next(iter(result.columns), None)
    return {
        "result": result,
        "chart": chart,
        "rows": [[reports.display_value(v) for v in row] for row in result.rows],
        "numeric": numeric,
        "chart_x": x,
        "chart_y": [c for c in ([c for c in _split(cell.chart_y) if c in numeric] or numeric) if c != x],
        "chart_y2": _split(cell.chart_y2),
        "params": used,
        "query": "?" + urlencode(used) if used else "",
        "sheet_query": urlencode({**used, "key": KEY_PLACEHOLDER}),
    }


class NotebookView(SecureView):
    admin_only = True

    # ------------------------------------------------------------------ pages

    @expose("/")
    def index(self):
        with db().begin():
            notebooks.ensure_starter_notebook(db())
            first = notebooks.list_notebooks(db())[0]
        return self._page(first.id)

    @expose("/<int:notebook_id>")
    def notebook(self, notebook_id: int):
        return self._page(notebook_id)

    def _page(self, notebook_id: int):
        with db().begin():
            try:
                notebook = notebooks.get_notebook(db(), notebook_id)
            except ReportError:
                abort(404)
            cells = notebooks.list_cells(db(), notebook.id)
            all_notebooks = notebooks.list_notebooks(db())
            sims = list(db().scalars(select(Sim.name).where(Sim.removed_at.is_(None)).order_by(Sim.name)))
            db().expunge_all()
        parameters: dict[str, reports.Parameter] = {}
        for cell in cells:
            for parameter in reports.cell_parameters(cell):
                parameters.setdefault(parameter.name, parameter)
        values = {name: request.args.get(name, p.default) for name, p in parameters.items()}
        return self.render(
            "smsbridge/notebook.html",
            notebook=notebook,
            notebooks=all_notebooks,
            cells=cells,
            outputs={cell.id: cell_output(cell, None, values) for cell in cells},
            parameters=list(parameters.values()),
            values=values,
            sims=sims,
            schema=reports.readable_columns(report_engine()),
            builtins=sorted(reports.BUILTINS),
            row_cap=reports.ROW_CAP,
            time_limit=reports.TIME_LIMIT_SECONDS,
        )

    # -------------------------------------------------------------- notebooks

    @expose("/new", methods=("POST",))
    def new_notebook(self):
        try:
            with db().begin():
                notebook = notebooks.create_notebook(db(), request.form.get("name", ""))
        except ReportError as exc:
            flash(f"Not added: {exc.message}", "error")
            return redirect(request.referrer or url_for(".index"))
        return redirect(url_for(".notebook", notebook_id=notebook.id))

    @expose("/<int:notebook_id>/rename", methods=("POST",))
    def rename_notebook(self, notebook_id: int):
        try:
            with db().begin():
                notebooks.rename_notebook(db(), notebook_id, request.form.get("name", ""))
        except ReportError as exc:
            flash(f"Not renamed: {exc.message}", "error")
        return redirect(url_for(".notebook", notebook_id=notebook_id))

    @expose("/<int:notebook_id>/delete", methods=("POST",))
    def delete_notebook(self, notebook_id: int):
        try:
            with db().begin():
                name = notebooks.get_notebook(db(), notebook_id).name
                notebooks.delete_notebook(db(), notebook_id)
        except ReportError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Notebook {name!r} deleted.", "success")
        return redirect(url_for(".index"))

    @expose("/<int:notebook_id>/export.json")
    def export_notebook(self, notebook_id: int):
        """The notebook as one file, to import on another gateway."""
        with db().begin():
            try:
                document = notebook_files.export_notebook(db(), notebook_id)
            except ReportError:
                abort(404)
        # A plain file name for every browser; the file itself keeps the real name.
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", document["name"]).strip("-") or f"notebook-{notebook_id}"
        return Response(
            json.dumps(document, ensure_ascii=False, indent=2) + "\n",
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="{stem}.json"'},
        )

    @expose("/import", methods=("POST",))
    def import_notebook(self):
        """A notebook file (from Export or `smsbridge notebook export`) as a
        new notebook; all or nothing, the first refusal named."""
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ReportError("choose a notebook file (.json) to import", field="file")
            document = notebook_files.parse_file(upload.read(notebook_files.MAX_FILE_BYTES + 1))
            with db().begin():
                notebook = notebook_files.import_notebook(db(), document)
                name, cells = notebook.name, len(notebooks.list_cells(db(), notebook.id))
        except ReportError as exc:
            flash(f"Not imported: {exc.message}", "error")
            return redirect(request.referrer or url_for(".index"))
        flash(f"Notebook {name!r} imported with {cells} cell{'' if cells == 1 else 's'}.", "success")
        return redirect(url_for(".notebook", notebook_id=notebook.id))

    # ------------------------------------------------------------------ cells

    @expose("/<int:notebook_id>/cells", methods=("POST",))
    def insert_cell(self, notebook_id: int):
        """A new cell (or one brought back by undo), answered as its HTML."""
        form = request.form
        kind = form.get("kind", "sql")
        try:
            with db().begin():
                cell = notebooks.save_cell(
                    db(),
                    None,
                    notebook_id=notebook_id,
                    kind=kind,
                    title=form.get("title", DEFAULT_TITLE.get(kind, "")),
                    query=form.get("query", NEW_MARKDOWN if kind == "markdown" else NEW_SQL),
                    chart=form.get("chart", ""),
                    chart_x=form.get("chart_x"),
                    chart_y=form.get("chart_y"),
                    chart_y2=form.get("chart_y2"),
                    before=_int(form.get("before")),
                    after=_int(form.get("after")),
                )
                db().expunge(cell)
        except ReportError as exc:
            return jsonify({"error": exc.message, "field": exc.field}), 400
        return self.render(
            "smsbridge/_cell.html",
            cell=cell,
            out=cell_output(cell, None, request.args),
            builtins=sorted(reports.BUILTINS),
            time_limit=reports.TIME_LIMIT_SECONDS,
            row_cap=reports.ROW_CAP,
        )

    @expose("/cell/<int:cell_id>/run", methods=("POST",))
    def run(self, cell_id: int):
        """Save what the form carries of the cell, run it with the page's
        parameters (the query string), answer its output as HTML."""
        form = request.form
        status = 200
        result: reports.CellResult | None = None
        try:
            with db().begin():
                cell = notebooks.get_cell(db(), cell_id)
                if "title" in form or "query" in form or "chart" in form:
                    notebooks.save_cell(db(), cell_id, **_changes(cell, form))
                db().expunge(cell)
        except ReportError as exc:
            if exc.field == "cell":
                abort(404)
            cell = notebooks_cell_or_404(cell_id)
            result, status = reports.CellResult(error=exc.message), 400
        if result is None:
            result = reports.run_cell(db(), report_engine(), cell, request.args)
        return self.render(
            "smsbridge/_cell_output.html",
            cell=cell,
            out=cell_output(cell, result, request.args),
            row_cap=reports.ROW_CAP,
        ), status

    @expose("/cell/<int:cell_id>/move/<direction>", methods=("POST",))
    def move(self, cell_id: int, direction: str):
        try:
            with db().begin():
                notebooks.move_cell(db(), cell_id, -1 if direction == "up" else 1)
        except ReportError as exc:
            return jsonify({"error": exc.message, "field": exc.field}), 404
        return jsonify({"moved": cell_id})

    @expose("/cell/<int:cell_id>/delete", methods=("POST",))
    def delete(self, cell_id: int):
        """Deleted; the answer holds what undo needs to put it back."""
        try:
            with db().begin():
                cell = notebooks.get_cell(db(), cell_id)
                siblings = notebooks.list_cells(db(), cell.notebook_id)
                index = siblings.index(cell)
                kept = {
                    "kind": cell.kind,
                    "title": cell.title,
                    "query": cell.query,
                    "chart": cell.chart,
                    "chart_x": cell.chart_x or "",
                    "chart_y": cell.chart_y or "",
                    "chart_y2": cell.chart_y2 or "",
                }
                if index + 1 < len(siblings):
                    kept["before"] = str(siblings[index + 1].id)
                elif index > 0:
                    kept["after"] = str(siblings[index - 1].id)
                notebooks.delete_cell(db(), cell_id)
        except ReportError as exc:
            return jsonify({"error": exc.message, "field": exc.field}), 404
        return jsonify({"deleted": cell_id, "undo": kept})

    @expose("/cell/<int:cell_id>.csv")
    def csv_download(self, cell_id: int):
        cell, result = self._download(cell_id)
        return Response(
            cell_csv(result),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename=cell-{cell.id}.csv"},
        )

    @expose("/cell/<int:cell_id>.json")
    def json_download(self, cell_id: int):
        cell, result = self._download(cell_id)
        body = {
            "cell": cell.id,
            "title": cell.title,
            "columns": result.columns,
            "rows": [[_json_value(v) for v in row] for row in result.rows],
            "truncated": result.truncated,
            "error": result.error,
            "note": result.note,
        }
        return Response(
            json.dumps(body, ensure_ascii=False),
            status=400 if result.error else 200,
            mimetype="application/json",
            headers={"Content-Disposition": f"attachment; filename=cell-{cell.id}.json"},
        )

    def _download(self, cell_id: int) -> tuple[ReportCell, reports.CellResult]:
        cell = notebooks_cell_or_404(cell_id)
        return cell, reports.run_cell(db(), report_engine(), cell, request.args)


def notebooks_cell_or_404(cell_id: int) -> ReportCell:
    with db().begin():
        try:
            cell = notebooks.get_cell(db(), cell_id)
        except ReportError:
            abort(404)
        db().expunge(cell)
    return cell


def _changes(cell: ReportCell, form) -> dict:
    """save_cell's arguments: what the form carries, the cell's own for the rest."""

    def field(name: str, current: str | None) -> str | None:
        return form.get(name, current)

    chart_columns = "chart_columns" in form  # the output's column pickers were on the page
    return {
        "title": field("title", cell.title) or "",
        "query": field("query", cell.query) or "",
        "chart": field("chart", cell.chart) or "",
        "chart_x": form.get("chart_x") if chart_columns else cell.chart_x,
        "chart_y": form.getlist("chart_y") if chart_columns else cell.chart_y,
        "chart_y2": form.getlist("chart_y2") if chart_columns else cell.chart_y2,
    }


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None


def _json_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return reports.display_value(value)
