"""Running the notebook's cells: a read-only SQL query (with named
parameters such as ``:since``, bound by the driver), a built-in report, or
a markdown text (nothing to run). How cells are stored is
``bridge.notebooks``.

Cell SQL is written by admins and runs as written, on purpose. What keeps
it to reading is the server, not a filter on text:

- it runs as the notebook's own database account (``notebook_account``,
  made by ``smsbridge db init``): SELECT on the bridge's and Gammu's tables,
  without the columns that hold secrets or hashes and without the session
  and throttle tables; no FILE, no PROCESS, no global privilege at all, and
  the account's own ``MAX_STATEMENT_TIME``. Its password is generated into
  ``<state_dir>/notebook_db_password`` (0600). Never the main account:
  without this one, SQL cells do not run.
- it runs inside ``START TRANSACTION READ ONLY``, where the server refuses
  any write, with a statement time limit and a row cap.

A check on the text (one statement, SELECT or WITH, no file functions, no
locking reads), comments taken into account the way the server reads them,
turns mistakes into clear words early. Locking reads need only SELECT, so
for them this check and the time limit are the guard.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects.mysql.base import MySQLDialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from .clock import utcnow
from .config import Settings
from .db import make_engine
from .errors import ReportError
from .models import Message, MessageStatus, ReportCell
from .sims import sim_overview

ROW_CAP = 1000
TIME_LIMIT_SECONDS = 10
CHARTS = ("", "bar", "line")
KINDS = ("sql", "builtin", "markdown")
INBOUND_TABLE = "inbound_messages"

# MariaDB/MySQL error numbers the notebook explains in words.
_READ_ONLY_REFUSED = 1792
_TIME_LIMIT_HIT = (1969, 3024)
_NOT_GRANTED = (1045, 1142, 1143, 1227)  # access denied: table, column, privilege


@dataclasses.dataclass
class CellResult:
    columns: list[str] = dataclasses.field(default_factory=list)
    rows: list[tuple] = dataclasses.field(default_factory=list)
    truncated: bool = False
    error: str | None = None  # the cell could not run
    parameter: str | None = None  # the parameter whose value is at fault
    note: str | None = None  # it ran, with something to say
    seconds: float = 0.0


# --------------------------------------------------------------------------
# The notebook's database account

PASSWORD_FILE = "notebook_db_password"
MISSING_ACCOUNT = (
    "the notebook's read-only database account is not set up: run `smsbridge db init` "
    "on this host as the user the web server runs as (it creates the account and its "
    "password file, which that user must be able to read)"
)


def notebook_account(database_url: str | URL) -> str:
    """The account's name: the database's, so that databases on one server
    have accounts of their own."""
    return f"{make_url(database_url).database}_notebook"


def notebook_password_path(settings: Settings) -> Path:
    return Path(settings.state_dir) / PASSWORD_FILE


class NotebookEngine:
    """The notebook account's engine, made on first use: `db init` may make
    the account after the web server started. ``get()`` is None until then."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def get(self) -> Engine | None:
        with self._lock:
            if self._engine is None:
                url = notebook_database_url(self._settings)
                if url is not None:
                    # Cells may run up to their own time limit: a bound of their own.
                    self._engine = make_engine(
                        url, timeout=TIME_LIMIT_SECONDS + 2, pool_size=2, max_overflow=2
                    )
            return self._engine


def notebook_database_url(settings: Settings) -> URL | None:
    """database_url with the notebook's account, or None before `db init` made it."""
    password = settings.notebook_db_password
    if not password:
        try:
            password = notebook_password_path(settings).read_text(encoding="utf-8").strip()
        except OSError:  # missing, or not this user's to read
            return None
    url = make_url(settings.database_url)
    return url.set(username=notebook_account(url), password=password)


# --------------------------------------------------------------------------
# SQL cells

_FIRST_WORD = re.compile(r"\s*([A-Za-z]+)")
# Friendly early refusals, read on the statement as the server reads it
# (see _as_the_server_reads): files on the DB server (the account has no
# FILE privilege anyway) and row locks that would stall dispatch.
_FORBIDDEN = re.compile(
    r"\binto\s+(outfile|dumpfile)\b|\bload_file\s*\(|\bfor\s+update\b"
    r"|\block\s+in\s+share\s+mode\b|\bfor\s+share\b",
    re.IGNORECASE,
)
# What MariaDB skips or reads specially: quoted text (kept, never searched),
# comments (-- , #, /* */: a space) and executable comments (/*! … */ and
# /*M! … */ with an optional version: their body is SQL the server runs).
_LEXEME = re.compile(
    r"""(?P<quoted>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`]|``)*`)"""
    r"|(?P<executable>/\*M?!\d{0,6})"
    r"|(?P<comment>/\*.*?\*/|--(?:[ \t\r\n\f\v]|$)[^\n]*|\#[^\n]*)"
    r"|(?P<end>\*/)",
    re.DOTALL,
)


def _as_the_server_reads(statement: str) -> str:
    """The statement with comments as spaces, executable comments opened,
    and string literals blanked (so that words inside them are not taken
    for SQL)."""
    out: list[str] = []
    position = 0
    for match in _LEXEME.finditer(statement):
        out.append(statement[position : match.start()])
        kind = match.lastgroup
        if kind == "quoted":
            out.append(" '' ")
        elif kind in ("executable", "end"):
            out.append(" ")  # the body in between stays, as SQL
        else:
            out.append(" ")
        position = match.end()
    out.append(statement[position:])
    return "".join(out)


def check_read_only_sql(sql: str) -> str:
    """The statement to run, or ReportError: clear words for a cell that
    cannot be a read. Not the security boundary (the notebook's account and
    the read-only transaction are); see the module's docstring."""
    statement = (sql or "").strip()
    if statement.endswith(";"):
        statement = statement[:-1].rstrip()
    if not statement:
        raise ReportError("the cell has no query")
    readable = _as_the_server_reads(statement)
    if ";" in readable:
        raise ReportError("refused: one statement per cell (no ';' inside the query)")
    first = _FIRST_WORD.match(readable)
    if not first or first.group(1).lower() not in ("select", "with"):
        raise ReportError("refused: the notebook only reads; a query starts with SELECT or WITH")
    if _FORBIDDEN.search(readable):
        raise ReportError("refused: INTO OUTFILE/DUMPFILE, LOAD_FILE and locking reads are not allowed")
    return statement


# --------------------------------------------------------------------------
# Parameters: ``:since`` in a cell's SQL, bound by the driver, never pasted

# A name after one colon, in SQL as the server reads it: not "::", not ":=",
# not "a:b"; inside literals and comments it is text (see _LEXEME).
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_DATE_NAMES = frozenset({"since", "until", "from", "to", "day", "date", "start", "end"})
_DATE_SUFFIXES = ("_at", "_on", "_date")
# Names whose empty field the notebook fills with the start of its default span.
_SPAN_STARTS = frozenset({"since", "from", "start"})
DEFAULT_SPAN_DAYS = 30
MAX_TEXT_PARAMETER = 200


@dataclasses.dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # date | sim | text

    @property
    def default(self) -> str:
        """What an empty input starts as: a date span of the last 30 days
        (today included) for dates, nothing for the rest."""
        if self.kind != "date":
            return ""
        today = utcnow().date()
        if self.name in _SPAN_STARTS:
            return (today - timedelta(days=DEFAULT_SPAN_DAYS - 1)).isoformat()
        return today.isoformat()


def parameter_kind(name: str) -> str:
    lowered = name.lower()
    if lowered in _DATE_NAMES or lowered.endswith(_DATE_SUFFIXES):
        return "date"
    return "sim" if lowered == "sim" else "text"


def _code_and_text(statement: str):
    """(is_code, piece) over the statement: code is what lies outside string
    literals, quoted names and comments."""
    position = 0
    for match in _LEXEME.finditer(statement):
        yield True, statement[position : match.start()]
        yield match.lastgroup in ("executable", "end"), match.group()
        position = match.end()
    yield True, statement[position:]


def cell_parameters(cell_or_sql: ReportCell | str) -> list[Parameter]:
    """The named parameters of a SQL cell, in order of first use."""
    if isinstance(cell_or_sql, ReportCell):
        if cell_or_sql.kind != "sql":
            return []
        cell_or_sql = cell_or_sql.query
    names: dict[str, Parameter] = {}
    for is_code, piece in _code_and_text(cell_or_sql or ""):
        if is_code:
            for name in _PARAMETER.findall(piece):
                names.setdefault(name, Parameter(name, parameter_kind(name)))
    return list(names.values())


def bind_parameters(parameters: Sequence[Parameter], raw: Mapping[str, str]) -> dict[str, object]:
    """{name: value} for the driver, from the text of the inputs: a date
    (YYYY-MM-DD) or a date and time (YYYY-MM-DD HH:MM) for date-like
    names, text for the rest. ReportError naming the parameter otherwise."""
    bound: dict[str, object] = {}
    for parameter in parameters:
        value = (raw.get(parameter.name) or "").strip()
        if not value:
            raise ReportError(f"the cell needs a value for :{parameter.name}", field=parameter.name)
        if parameter.kind == "date":
            bound[parameter.name] = _parse_date(parameter.name, value)
        elif len(value) > MAX_TEXT_PARAMETER:
            raise ReportError(
                f":{parameter.name} is at most {MAX_TEXT_PARAMETER} characters", field=parameter.name
            )
        else:
            bound[parameter.name] = value
    return bound


def _parse_date(name: str, value: str) -> date | datetime:
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        if len(value) in (16, 19) and value[10] in " T":
            return datetime.fromisoformat(value.replace("T", " "))
    except ValueError:
        pass
    raise ReportError(f":{name} is a date, YYYY-MM-DD or YYYY-MM-DD HH:MM, not {value[:40]!r}", field=name)


def _driver_statement(statement: str) -> str:
    """``:name`` as PyMySQL's ``%(name)s``, every other ``%`` doubled (the
    driver formats the whole text, literals included)."""
    out = []
    for is_code, piece in _code_and_text(statement):
        piece = piece.replace("%", "%%")
        out.append(_PARAMETER.sub(r"%(\1)s", piece) if is_code else piece)
    return "".join(out)


def run_sql(
    engine: Engine | None,
    sql: str,
    params: Mapping[str, str] | None = None,
    *,
    row_cap: int = ROW_CAP,
    time_limit: int = TIME_LIMIT_SECONDS,
) -> CellResult:
    """``engine``: the notebook account's (None: it is not set up, and the
    cell does not run). ``params``: the text of the parameters' inputs."""
    started = time.monotonic()
    try:
        statement = check_read_only_sql(sql)
        parameters = cell_parameters(statement)
        bound = bind_parameters(parameters, params or {}) if parameters else None
        if engine is None:
            raise ReportError(MISSING_ACCOUNT)
        if bound is not None:
            statement = _driver_statement(statement)
        columns, rows, truncated = _read_only(engine, statement, row_cap, time_limit, bound)
    except ReportError as exc:
        return CellResult(error=exc.message, parameter=exc.field)
    except Exception as exc:  # noqa: BLE001 - any DB error is shown to the admin
        return CellResult(error=_explain(exc), seconds=time.monotonic() - started)
    return CellResult(columns, rows, truncated, seconds=time.monotonic() - started)


def _read_only(
    engine: Engine, statement: str, row_cap: int, time_limit: int, params: Mapping[str, object] | None = None
):
    # The raw DBAPI cursor runs the text exactly as written (with params
    # None, PyMySQL does no %-formatting at all): SQLAlchemy's text() would
    # read ":name" inside string literals as bind parameters.
    # The session limits are reset before the connection goes back to the
    # pool; if anything fails half-way the connection is discarded instead.
    connection = engine.raw_connection()
    clean = False
    try:
        cursor = connection.cursor()
        # Asked once connected: the dialect learns the server's kind then.
        mariadb = _is_mariadb(engine)
        if mariadb:
            cursor.execute("SET SESSION max_statement_time = %s", (time_limit,))
        else:
            cursor.execute("SET SESSION max_execution_time = %s", (time_limit * 1000,))
        # The server stops sending rows after the cap; fetchmany holds to it too.
        cursor.execute("SET SESSION sql_select_limit = %s", (row_cap + 1,))
        cursor.execute("START TRANSACTION READ ONLY")
        cursor.execute(statement, params)
        columns = [d[0] for d in cursor.description or ()]
        rows = [tuple(row) for row in cursor.fetchmany(row_cap + 1)] if columns else []
        cursor.execute("ROLLBACK")
        cursor.execute("SET SESSION sql_select_limit = DEFAULT")
        cursor.execute(
            "SET SESSION max_statement_time = DEFAULT"
            if mariadb
            else "SET SESSION max_execution_time = DEFAULT"
        )
        cursor.close()
        clean = True
    finally:
        if not clean:
            connection.invalidate()
        connection.close()
    return columns, rows[:row_cap], len(rows) > row_cap


def _is_mariadb(engine: Engine) -> bool:
    """MariaDB or MySQL: each names its statement time limit differently."""
    dialect = engine.dialect
    # The bridge runs on MySQL-family servers only; the MySQL dialect is
    # the one that tells MariaDB apart.
    assert isinstance(dialect, MySQLDialect), f"not a MySQL or MariaDB database: {dialect.name}"
    return dialect.is_mariadb


def _explain(exc: Exception) -> str:
    code = _error_code(exc)
    if code == _READ_ONLY_REFUSED:
        return "refused: the notebook only reads, and this query tried to write"
    if code in _NOT_GRANTED:
        return (
            "refused: the notebook's account cannot read that (secrets, password and key "
            "hashes, sessions and files are out of its reach; select the columns you need)"
        )
    if code in _TIME_LIMIT_HIT:
        return f"stopped: the query ran longer than {TIME_LIMIT_SECONDS} s"
    detail = getattr(exc, "orig", exc)
    args: tuple[object, ...] = getattr(detail, "args", ())
    return f"the query failed: {args[1] if len(args) > 1 else detail}"


def _error_code(exc: Exception) -> int | None:
    args = getattr(getattr(exc, "orig", exc), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def readable_columns(engine: Engine | None) -> dict[str, list[str]]:
    """{table: its columns} the notebook's account may read, as the server
    says: information_schema shows an account only what it was granted.
    Empty when the account is not set up or the server is away."""
    if engine is None:
        return {}
    tables: dict[str, list[str]] = {}
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(_COLUMNS.c.TABLE_NAME, _COLUMNS.c.COLUMN_NAME)
                .where(_COLUMNS.c.TABLE_SCHEMA == func.database())
                .order_by(_COLUMNS.c.TABLE_NAME, _COLUMNS.c.ORDINAL_POSITION)
            )
            for table_name, column_name in rows:
                tables.setdefault(table_name, []).append(column_name)
    except Exception:  # noqa: BLE001 - the schema is a help; the cells say what is wrong
        return {}
    return tables


_COLUMNS = Table(
    "COLUMNS",
    MetaData(schema="information_schema"),
    Column("TABLE_SCHEMA", String(64)),
    Column("TABLE_NAME", String(64)),
    Column("COLUMN_NAME", String(64)),
    Column("ORDINAL_POSITION", Integer),
)


# --------------------------------------------------------------------------
# Built-in reports: Python where SQL alone cannot say it well


def _parts_per_sim(session: Session, _engine: Engine | None, row_cap: int) -> CellResult:
    sims = sim_overview(session)
    if not sims:
        return CellResult(note="No SIMs yet: add one on the SIMs page, and its month shows here.")
    return CellResult(
        ["sim", "parts_used", "monthly_limit", "period_start"],
        [(s["name"], s["parts_used"], s["monthly_limit"], s["period_start"]) for s in sims[:row_cap]],
        truncated=len(sims) > row_cap,
    )


def _delivery_by_prefix(session: Session, _engine: Engine | None, row_cap: int) -> CellResult:
    """Operators own number ranges: the first national digits after the
    country code (RU +7 9xx) tell them apart well enough."""
    rows = session.execute(
        select(Message.recipient, Message.status, func.count())
        .where(Message.status.in_(_FINISHED))
        .group_by(Message.recipient, Message.status)
    ).all()
    totals: Counter = Counter()
    sent: Counter = Counter()
    delivered: Counter = Counter()
    for recipient, status, count in rows:
        prefix = operator_prefix(recipient)
        totals[prefix] += count
        sent[prefix] += count if status in _LEFT_THE_MODEM else 0
        delivered[prefix] += count if status == MessageStatus.DELIVERED else 0
    if not totals:
        return CellResult(note="No finished messages yet: rates show once texts are sent or fail.")
    ordered = sorted(totals, key=lambda p: (-totals[p], p))
    return CellResult(
        ["prefix", "messages", "sent_pct", "delivered_pct"],
        [(p, totals[p], _pct(sent[p], totals[p]), _pct(delivered[p], totals[p])) for p in ordered[:row_cap]],
        truncated=len(ordered) > row_cap,
    )


def operator_prefix(e164: str, digits: int = 3) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "unknown"
    return f"+{number.country_code} {str(number.national_number)[:digits]}"


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _inbound_keywords(session: Session, _engine: Engine | None, row_cap: int) -> CellResult:
    connection = session.connection()
    if not inspect(connection).has_table(INBOUND_TABLE):
        return CellResult(
            note=f"No inbound messages yet: the {INBOUND_TABLE} table does not exist "
            "in this database. This cell will work once incoming texts are stored."
        )
    table = Table(INBOUND_TABLE, MetaData(), autoload_with=connection)
    text_column = next((table.c[name] for name in ("text", "body") if name in table.c), None)
    if text_column is None:
        return CellResult(note=f"{INBOUND_TABLE} has no text column to take keywords from.")
    keywords: Counter = Counter()
    for (text,) in session.execute(select(text_column).limit(100_000)):
        words = (text or "").split()
        if words:
            keywords[words[0].upper()[:32]] += 1
    if not keywords:
        return CellResult(note="No inbound messages yet: nothing has been received.")
    return CellResult(["keyword", "messages"], keywords.most_common(min(row_cap, 20)))


_FINISHED = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED)
_LEFT_THE_MODEM = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)

BUILTINS = {
    "parts_per_sim": _parts_per_sim,
    "delivery_by_prefix": _delivery_by_prefix,
    "inbound_keywords": _inbound_keywords,
}


def run_builtin(session: Session, engine: Engine | None, name: str, *, row_cap: int = ROW_CAP) -> CellResult:
    report = BUILTINS.get(name)
    if report is None:
        return CellResult(error=f"no built-in report {name!r}")
    started = time.monotonic()
    with session.begin():
        result = report(session, engine, row_cap)
    result.seconds = time.monotonic() - started
    return result


def run_cell(
    session: Session,
    engine: Engine | None,
    cell: ReportCell,
    params: Mapping[str, str] | None = None,
    *,
    row_cap: int = ROW_CAP,
) -> CellResult:
    """A cell's result; ``params`` the text of the notebook's parameter
    inputs (only those the cell uses are read). ``session`` must not be in
    a transaction (a built-in frames its own). A markdown cell has none."""
    if cell.kind == "builtin":
        return run_builtin(session, engine, cell.query, row_cap=row_cap)
    if cell.kind == "markdown":
        return CellResult()
    return run_sql(engine, cell.query, params, row_cap=row_cap)


def display_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)
