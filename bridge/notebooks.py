"""Notebooks and their cells as stored: named notebooks in tab order, each
with its cells in order. Running a cell is ``bridge.reports``' business.

Invariants: a notebook's name is unique (1-100 characters, compared as the
database's collation compares, i.e. without case); a cell belongs to exactly
one notebook and goes with it; cell positions inside a notebook are
renumbered 0..n-1 whenever cells are inserted or moved, so "before" and
"after" always mean what they say. A SQL cell is stored only if it reads
(``reports.check_read_only_sql``); a built-in names a known report and keeps
it. Functions change data and flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .clock import utcnow
from .errors import ReportError
from .models import Notebook, ReportCell
from .reports import BUILTINS, CHARTS, KINDS, check_read_only_sql

MAX_NAME = 100
MAX_TITLE = 200
MAX_TEXT = 60_000  # a TEXT column holds 64 KiB; a cell is far smaller
MAX_COLUMN_NAME = 64
MAX_COLUMN_LIST = 255
STARTER_NOTEBOOK = "Overview"

# --------------------------------------------------------------------------
# Notebooks


def list_notebooks(session: Session) -> list[Notebook]:
    return list(session.scalars(select(Notebook).order_by(Notebook.position, Notebook.id)))


def get_notebook(session: Session, notebook_id: int) -> Notebook:
    notebook = session.get(Notebook, notebook_id)
    if notebook is None:
        raise ReportError(f"no notebook {notebook_id}", field="notebook", status=404)
    return notebook


def create_notebook(session: Session, name: str) -> Notebook:
    """A new notebook at the end of the tabs. ReportError on a blank, too
    long or taken name."""
    name = _valid_name(session, name, None)
    last = session.scalar(select(func.max(Notebook.position)))
    now = utcnow()
    notebook = Notebook(name=name, position=0 if last is None else last + 1, created_at=now, updated_at=now)
    session.add(notebook)
    session.flush()
    return notebook


def rename_notebook(session: Session, notebook_id: int, name: str) -> Notebook:
    notebook = get_notebook(session, notebook_id)
    notebook.name = _valid_name(session, name, notebook_id)
    notebook.updated_at = utcnow()
    session.flush()
    return notebook


def delete_notebook(session: Session, notebook_id: int) -> None:
    """The notebook and its cells."""
    session.delete(get_notebook(session, notebook_id))
    session.flush()


def _valid_name(session: Session, name: str, notebook_id: int | None) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise ReportError(f"a notebook's name is 1-{MAX_NAME} characters", field="name")
    # The unique index compares as the collation does (no case): so does this.
    taken = session.scalar(select(Notebook.id).where(Notebook.name == name))
    if taken is not None and taken != notebook_id:
        raise ReportError(f"there is already a notebook named {name!r}", field="name")
    return name


# --------------------------------------------------------------------------
# Cells


def list_cells(session: Session, notebook_id: int) -> list[ReportCell]:
    return list(
        session.scalars(
            select(ReportCell)
            .where(ReportCell.notebook_id == notebook_id)
            .order_by(ReportCell.position, ReportCell.id)
        )
    )


def get_cell(session: Session, cell_id: int) -> ReportCell:
    cell = session.get(ReportCell, cell_id)
    if cell is None:
        raise ReportError(f"no cell {cell_id}", field="cell", status=404)
    return cell


def save_cell(
    session: Session,
    cell_id: int | None,
    *,
    notebook_id: int | None = None,
    title: str = "",
    query: str = "",
    kind: str = "sql",
    chart: str = "",
    chart_x: str | None = None,
    chart_y: str | Sequence[str] | None = None,
    chart_y2: str | Sequence[str] | None = None,
    before: int | None = None,
    after: int | None = None,
) -> ReportCell:
    """Add a cell (``cell_id`` None) to ``notebook_id`` — before or after
    a cell of it, else at the end — or edit one (its kind and notebook stay;
    a built-in keeps its report). ``chart_y``/``chart_y2``: column names, a
    list or comma-separated; empty means the default (see ReportCell)."""
    if cell_id is None:
        if notebook_id is None:
            raise ReportError("a new cell needs its notebook", field="notebook")
        notebook = get_notebook(session, notebook_id)
        if kind not in KINDS:
            raise ReportError(f"a cell is one of {', '.join(KINDS)}", field="kind")
        if kind == "builtin" and query not in BUILTINS:
            raise ReportError(f"no built-in report {query!r}", field="query")
        cell = ReportCell(notebook_id=notebook.id, kind=kind, query="")
    else:
        cell = get_cell(session, cell_id)
    title = (title or "").strip()
    if len(title) > MAX_TITLE or (not title and cell.kind != "markdown"):
        raise ReportError(f"a title is 1-{MAX_TITLE} characters", field="title")
    if chart not in CHARTS:
        raise ReportError("chart is none, bar or line", field="chart")
    if cell.kind != "builtin" and len(query or "") > MAX_TEXT:
        raise ReportError(f"a cell holds at most {MAX_TEXT} characters", field="query")
    if cell.kind == "sql":
        check_read_only_sql(query)
        cell.query = query.strip()
    elif cell.kind == "markdown":
        cell.query = (query or "").strip()
    elif cell_id is None:
        cell.query = query
    cell.title, cell.chart = title, chart
    cell.chart_x = _columns(chart_x, "chart_x", MAX_COLUMN_NAME, single=True)
    cell.chart_y = _columns(chart_y, "chart_y", MAX_COLUMN_LIST)
    cell.chart_y2 = _columns(chart_y2, "chart_y2", MAX_COLUMN_LIST)
    cell.updated_at = utcnow()
    if cell_id is None:
        _insert(session, cell, before=before, after=after)
    session.flush()
    return cell


def _columns(value: str | Sequence[str] | None, field: str, longest: int, single: bool = False) -> str | None:
    names = value.split(",") if isinstance(value, str) else list(value or ())
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        return None
    if single and len(names) > 1:
        raise ReportError("the chart's labels come from one column", field=field)
    joined = ",".join(dict.fromkeys(names))
    if len(joined) > longest or any(len(n) > MAX_COLUMN_NAME for n in names):
        raise ReportError(f"at most {longest} characters of column names", field=field)
    return joined


def _insert(session: Session, cell: ReportCell, *, before: int | None, after: int | None) -> None:
    cells = list_cells(session, cell.notebook_id)
    index = len(cells)
    neighbour = before if before is not None else after
    if neighbour is not None:
        found = next((i for i, c in enumerate(cells) if c.id == neighbour), None)
        if found is None:
            raise ReportError(f"no cell {neighbour} in this notebook", field="before" if before else "after")
        index = found if before is not None else found + 1
    cells.insert(index, cell)
    session.add(cell)
    _renumber(cells)


def _renumber(cells: list[ReportCell]) -> None:
    for position, cell in enumerate(cells):
        cell.position = position


def delete_cell(session: Session, cell_id: int) -> None:
    session.delete(get_cell(session, cell_id))
    session.flush()


def move_cell(session: Session, cell_id: int, step: int) -> None:
    """Swap with the neighbour above (step -1) or below (+1) in its notebook."""
    cell = get_cell(session, cell_id)
    cells = list_cells(session, cell.notebook_id)
    index = cells.index(cell)
    other = index + step
    if 0 <= other < len(cells):
        cells[index], cells[other] = cells[other], cells[index]
    _renumber(cells)
    session.flush()


# --------------------------------------------------------------------------
# The starter notebook: every cell says something on an empty database too

INTRO = """\
## Reports

Each cell below is a **read-only** query (or a built-in report). Edit a cell in
place and press **Shift+Enter** to run it; the other cells keep their output.
*Run all* runs them in order.

Parameters such as `:since` and `:until` become inputs above the notebook: change
them and run again. The schema on the side lists the tables and columns the
notebook may read; click a name to insert it.

Queries run as the notebook's own database account: no writes, no secrets,
at most 10 s and 1000 rows each."""

MESSAGES_PER_DAY = """\
WITH RECURSIVE days AS (
  SELECT CAST(:since AS DATE) AS day
  UNION ALL
  SELECT day + INTERVAL 1 DAY FROM days WHERE day < CAST(:until AS DATE)
)
SELECT days.day, COUNT(m.id) AS messages,
       COALESCE(SUM(m.status = 'delivered'), 0) AS delivered,
       COALESCE(SUM(m.status = 'failed'), 0) AS failed
FROM days
LEFT JOIN messages m
  ON m.created_at >= days.day AND m.created_at < days.day + INTERVAL 1 DAY
GROUP BY days.day ORDER BY days.day"""

MESSAGES_PER_SIM = """\
SELECT COALESCE(s.name, '(no SIM yet)') AS sim, COUNT(*) AS messages,
       SUM(m.status IN ('sent', 'delivered', 'undelivered')) AS sent,
       SUM(m.status = 'failed') AS failed
FROM messages m LEFT JOIN sims s ON s.id = m.sim_id
WHERE m.created_at >= :since AND m.created_at < :until + INTERVAL 1 DAY
GROUP BY s.name ORDER BY messages DESC"""

DELIVERY_PER_SIM = """\
SELECT s.name AS sim, COUNT(*) AS messages,
       ROUND(100 * SUM(m.status IN ('sent', 'delivered', 'undelivered')) / COUNT(*), 1)
         AS sent_pct,
       ROUND(100 * SUM(m.status = 'delivered') / COUNT(*), 1) AS delivered_pct
FROM messages m JOIN sims s ON s.id = m.sim_id
WHERE m.status IN ('sent', 'delivered', 'undelivered', 'failed')
GROUP BY s.name ORDER BY s.name"""

BUSIEST_HOURS = """\
WITH RECURSIVE hours AS (SELECT 0 AS hour UNION ALL SELECT hour + 1 FROM hours WHERE hour < 23)
SELECT hours.hour, COUNT(m.id) AS messages
FROM hours
LEFT JOIN messages m
  ON HOUR(m.created_at) = hours.hour AND m.created_at >= NOW() - INTERVAL 30 DAY
GROUP BY hours.hour ORDER BY hours.hour"""

# (title, kind, query, chart, chart_x, chart_y, chart_y2)
STARTER_CELLS: tuple[tuple[str, str, str, str, str | None, str | None, str | None], ...] = (
    ("", "markdown", INTRO, "", None, None, None),
    (
        "Parts per SIM this billing month",
        "builtin",
        "parts_per_sim",
        "bar",
        "sim",
        "parts_used,monthly_limit",
        "monthly_limit",  # limits in the thousands, parts used in ones: a scale each
    ),
    ("Messages per day from :since to :until", "sql", MESSAGES_PER_DAY, "line", None, None, None),
    ("Messages per SIM from :since to :until", "sql", MESSAGES_PER_SIM, "bar", None, None, None),
    ("Delivery rate per SIM", "sql", DELIVERY_PER_SIM, "", None, None, None),
    ("Delivery rate per operator prefix", "builtin", "delivery_by_prefix", "", None, None, None),
    ("Busiest hours (UTC, last 30 days)", "sql", BUSIEST_HOURS, "bar", None, None, None),
    ("Top inbound keywords", "builtin", "inbound_keywords", "bar", None, None, None),
)


def ensure_starter_notebook(session: Session) -> Notebook | None:
    """The first visit finds a notebook of useful cells; the new notebook,
    or None when there was one already. Caller commits."""
    if session.scalar(select(func.count()).select_from(Notebook)):
        return None
    notebook = create_notebook(session, STARTER_NOTEBOOK)
    for title, kind, query, chart, chart_x, chart_y, chart_y2 in STARTER_CELLS:
        save_cell(
            session,
            None,
            notebook_id=notebook.id,
            title=title,
            kind=kind,
            query=query,
            chart=chart,
            chart_x=chart_x,
            chart_y=chart_y,
            chart_y2=chart_y2,
        )
    return notebook
