"""A notebook as one JSON file, so reports can be shared between gateways:
``export_notebook`` writes it, ``import_notebook`` reads it into a new
notebook. The admin, the CLI and tests use these two functions.

The file is self-describing and versioned::

    {"format": "smsbridge-notebook", "version": 1, "name": "Billing",
     "cells": [{"kind": "sql", "title": "…", "query": "SELECT …",
                "chart": "bar", "chart_x": null, "chart_y": null, "chart_y2": null}, …]}

Invariants: an import is all or nothing — every cell passes the same checks
as a cell saved on the page (``notebooks.save_cell``: a SQL cell must read,
a built-in must exist here), and the first refusal names the cell by its
place ("cells[3].query: …") with nothing stored; the caller commits. An
import never replaces an existing notebook: a taken name gets " (2)", " (3)"….
Ids and times are not exported: they belong to the gateway that made them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ReportError
from .models import Notebook
from .notebooks import MAX_NAME, create_notebook, get_notebook, list_cells, save_cell

FORMAT = "smsbridge-notebook"
VERSION = 1
MAX_CELLS = 200  # far more than a page of reports; a bigger file is a mistake
MAX_FILE_BYTES = 1024 * 1024


class CellFile(BaseModel):
    # Unknown keys are ignored: a newer gateway may write more than this one reads.
    model_config = ConfigDict(extra="ignore")
    kind: Literal["sql", "builtin", "markdown"]
    title: str = ""
    query: str
    chart: str = ""
    chart_x: str | None = None
    chart_y: str | None = None
    chart_y2: str | None = None


class NotebookFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["smsbridge-notebook"]
    version: Literal[1]
    name: str = Field(min_length=1, max_length=MAX_NAME)
    cells: list[CellFile] = Field(max_length=MAX_CELLS)


def export_notebook(session: Session, notebook_id: int) -> dict[str, Any]:
    """The notebook as the file's JSON object."""
    notebook = get_notebook(session, notebook_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": notebook.name,
        "cells": [
            {
                "kind": cell.kind,
                "title": cell.title,
                "query": cell.query,
                "chart": cell.chart,
                "chart_x": cell.chart_x,
                "chart_y": cell.chart_y,
                "chart_y2": cell.chart_y2,
            }
            for cell in list_cells(session, notebook.id)
        ],
    }


def import_notebook(session: Session, document: object, name: str | None = None) -> Notebook:
    """A new notebook from a file's parsed JSON (``name`` overrides the
    file's). ReportError naming the field on anything it cannot take."""
    try:
        parsed = NotebookFile.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _place(first["loc"]) or "file"
        if where == "format":
            raise ReportError(
                'not an smsbridge notebook file (no "format": "smsbridge-notebook")', field="file"
            ) from None
        raise ReportError(f"{where}: {first['msg']}", field="file") from None
    notebook = create_notebook(session, _free_name(session, (name or parsed.name).strip()))
    for index, cell in enumerate(parsed.cells):
        try:
            save_cell(session, None, notebook_id=notebook.id, **cell.model_dump())
        except ReportError as exc:
            raise ReportError(f"cells[{index}].{exc.field or 'query'}: {exc.message}", field="file") from None
    return notebook


def parse_file(raw: bytes) -> object:
    """A file's bytes as JSON, or ReportError in words."""
    if len(raw) > MAX_FILE_BYTES:
        raise ReportError(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB", field="file")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportError(f"the file is not JSON: {exc}", field="file") from None


def _place(location: tuple[int | str, ...]) -> str:
    """pydantic's error location as a path: ("cells", 2, "query") -> cells[2].query."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _free_name(session: Session, wanted: str) -> str:
    """``wanted``, or the first of "wanted (2)", "wanted (3)", … not taken."""
    if not wanted:
        return wanted  # create_notebook says what is wrong with it
    taken = {name.lower() for name in session.scalars(select(Notebook.name))}
    if wanted.lower() not in taken:
        return wanted
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = wanted[: MAX_NAME - len(suffix)] + suffix
        if candidate.lower() not in taken:
            return candidate
        number += 1
