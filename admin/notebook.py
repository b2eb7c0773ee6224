"""The reports notebook: ordered cells of read-only SQL or built-in
reports, run one by one or all at once, each result a table, an optional
chart and a CSV download. Admins only: cell SQL runs as written."""

from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_admin import expose

from bridge import notebooks, reports
from bridge.errors import ReportError
from bridge.models import ReportCell

from . import charts
from .auth import SecureView
from .common import db, report_engine
from .spreadsheet import csv_chunks


def _result_view(cell: ReportCell, result: reports.CellResult) -> dict:
    chart = (
        charts.from_table(cell.chart, result.columns, result.rows)
        if cell.chart and not result.error
        else None
    )
    return {
        "result": result,
        "chart": chart,
        "rows": [[reports.display_value(v) for v in row] for row in result.rows],
    }


class NotebookView(SecureView):
    admin_only = True

    def _page(self, results: dict[int, dict] | None = None):
        with db().begin():
            notebooks.ensure_starter_notebook(db())
        with db().begin():
            cells = self._cells()
        return self.render(
            "smsbridge/notebook.html",
            cells=cells,
            results=results or {},
            row_cap=reports.ROW_CAP,
            time_limit=reports.TIME_LIMIT_SECONDS,
        )

    def _run(self, cells: list[ReportCell]) -> dict[int, dict]:
        return {cell.id: _result_view(cell, reports.run_cell(db(), report_engine(), cell)) for cell in cells}

    @expose("/")
    def index(self):
        return self._page()

    @expose("/run/<int:cell_id>", methods=("POST",))
    def run(self, cell_id: int):
        cell = self._cell(cell_id)
        if cell is None:
            return redirect(url_for(".index"))
        return self._page(self._run([cell]))

    @expose("/run-all", methods=("POST",))
    def run_all(self):
        with db().begin():
            cells = self._cells()
        return self._page(self._run(cells))

    def _cells(self) -> list[ReportCell]:
        first = notebooks.list_notebooks(db())[:1]
        return notebooks.list_cells(db(), first[0].id) if first else []

    @expose("/cell/<int:cell_id>.csv")
    def csv(self, cell_id: int):
        cell = self._cell(cell_id)
        if cell is None:
            return redirect(url_for(".index"))
        result = reports.run_cell(db(), report_engine(), cell)
        if result.error or result.note:
            chunks = csv_chunks(["message"], [[result.error or result.note]])
        else:
            chunks = csv_chunks(result.columns, result.rows, show=reports.display_value)
        return Response(
            "".join(chunks),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename=cell-{cell_id}.csv"},
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        return self._edit(None)

    @expose("/edit/<int:cell_id>", methods=("GET", "POST"))
    def edit(self, cell_id: int):
        return self._edit(cell_id)

    def _edit(self, cell_id: int | None):
        cell = self._cell(cell_id) if cell_id is not None else None
        if cell_id is not None and cell is None:
            return redirect(url_for(".index"))
        form = {
            "title": cell.title if cell else "",
            "query": cell.query if cell else "",
            "chart": cell.chart if cell else "",
            "kind": cell.kind if cell else "sql",
        }
        error = None
        if request.method == "POST":
            form.update(title=request.form.get("title", ""), chart=request.form.get("chart", ""))
            if form["kind"] == "sql":
                form["query"] = request.form.get("query", "")
            try:
                with db().begin():
                    saved = notebooks.save_cell(
                        db(),
                        cell_id,
                        notebook_id=notebooks.list_notebooks(db())[0].id,
                        title=form["title"],
                        query=form["query"],
                        chart=form["chart"],
                    )
            except ReportError as exc:
                error = str(exc)
            else:
                flash(f"Cell {saved.title!r} saved.", "success")
                return redirect(url_for(".index") + f"#cell-{saved.id}")
        return self.render(
            "smsbridge/cell_edit.html", form=form, cell=cell, error=error, builtins=reports.BUILTINS
        ), 400 if error else 200

    @expose("/move/<int:cell_id>/<direction>", methods=("POST",))
    def move(self, cell_id: int, direction: str):
        self._change(lambda: notebooks.move_cell(db(), cell_id, -1 if direction == "up" else 1))
        return redirect(url_for(".index") + f"#cell-{cell_id}")

    @expose("/delete/<int:cell_id>", methods=("POST",))
    def delete(self, cell_id: int):
        if self._change(lambda: notebooks.delete_cell(db(), cell_id)):
            flash("Cell deleted.", "success")
        return redirect(url_for(".index"))

    def _cell(self, cell_id: int) -> ReportCell | None:
        try:
            with db().begin():
                return notebooks.get_cell(db(), cell_id)
        except ReportError as exc:
            flash(str(exc), "error")
            return None

    def _change(self, action) -> bool:
        try:
            with db().begin():
                action()
        except ReportError as exc:
            flash(str(exc), "error")
            return False
        return True
