"""CSV for spreadsheets: the one writer behind every admin download (the
message archive, the notebook's cells) and the API's report CSV.

Anyone who can text a SIM chooses what some cells hold. A spreadsheet runs
a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (``=HYPERLINK(…)``, DDE), so such a text is written with
a leading ``'``: shown as text, run as nothing. Numbers stay numbers, and a
phone number in E.164 (``+79991234567``) stays as it is."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator

from bridge.reports import CellResult, display_value

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64_000  # characters per piece of a streamed download


def safe_cell(value: object, show: Callable[[object], object] = lambda v: v) -> object:
    """``show(value)``, with a leading ``'`` when the value is text a
    spreadsheet would run."""
    shown = show(value)
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _is_phone(value):
        return "'" + str(shown)
    return shown


def _is_phone(value: str) -> bool:
    return value.startswith("+") and value[1:].isdigit()


def csv_chunks(
    header: Iterable[str], rows: Iterable[Iterable[object]], show: Callable[[object], object] = lambda v: v
) -> Iterator[str]:
    """The CSV of ``header`` and ``rows`` in pieces of about ``CHUNK``
    characters, each value through ``show`` and ``safe_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(value, show) for value in row])
        if buffer.tell() > CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def cell_csv(result: CellResult) -> str:
    """A notebook cell's result: its table, or one ``message`` column
    saying why there is none (its error or its note)."""
    if result.error or result.note:
        return "".join(csv_chunks(["message"], [[result.error or result.note]]))
    return "".join(csv_chunks(result.columns, result.rows, show=display_value))
