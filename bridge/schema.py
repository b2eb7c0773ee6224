"""Creating and upgrading the database: Gammu's schema from
``bridge/sql/gammu-17.sql``, the bridge's by its migrations (``bridge/migrations``),
the least-privilege account for gammu-smsd and the reports notebook's
read-only account.

Gammu's tables are created once and never altered (another Gammu version is
refused); the bridge's tables change only through migrations, and a process
that serves the database first checks it is at the migrations' head."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable

from . import migrations, reports
from .config import Settings, secret_file
from .db import make_engine
from .errors import SchemaError
from .models import GAMMU_SCHEMA_VERSION, GammuBase, GammuVersion

SQL_DIR = Path(__file__).resolve().parent / "sql"
GAMMU_SQL = SQL_DIR / f"gammu-{GAMMU_SCHEMA_VERSION}.sql"
GAMMU_TABLES = tuple(GammuBase.metadata.tables)
# gammu-smsd reads and writes these and nothing else.
GAMMU_GRANTS = {
    "gammu": "SELECT",
    "inbox": "SELECT, INSERT, UPDATE",
    "outbox": "SELECT, INSERT, UPDATE, DELETE",
    "outbox_multipart": "SELECT, INSERT, UPDATE, DELETE",
    "phones": "SELECT, INSERT, UPDATE, DELETE",
    "sentitems": "SELECT, INSERT, UPDATE",
}
# What the notebook's account may not read: credentials and their hashes,
# live sessions and the login throttle's addresses. A test checks that every
# column named like a secret is here.
NOTEBOOK_HIDDEN_TABLES = frozenset({"admin_sessions", "login_failures"})
NOTEBOOK_HIDDEN_COLUMNS = {
    "users": {"password_hash"},
    "api_keys": {"key_hash"},
    "webhooks": {"secret"},
    "webhook_deliveries": {"secret"},
    "rules": {"secret"},
}
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_ACCESS_DENIED = (1044, 1045, 1142, 1227, 1410)  # the server's "you may not", by error number
MIGRATION_LOCK = "smsbridge_schema"
MIGRATION_LOCK_WAIT = 60


def gammu_statements() -> list[str]:
    return sql_statements(GAMMU_SQL)


def sql_statements(path: Path) -> list[str]:
    """The statements of a plain DDL file (``--`` comments, ``;`` after each)."""
    body = "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("--")
    )
    return [part.strip() for part in body.split(";") if part.strip()]


def create_database_if_missing(database_url: str) -> None:
    """Connect without a database and create the URL's one (utf8mb4)."""

    url = make_url(database_url)
    name = url.database
    if not name or not _IDENTIFIER.match(name):
        raise SchemaError(f"database name {name!r} must be letters, digits or _")
    # URL.set() keeps a field given None, so build the server URL anew.
    server = make_engine(
        URL.create(url.drivername, url.username, url.password, url.host, url.port, None, url.query)
    )
    try:
        with server.begin() as conn:
            conn.execute(
                text(
                    f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
    finally:
        server.dispose()


def init_schema(engine: Engine) -> list[str]:
    """Create what is missing, then bring the bridge's tables to head;
    return what was done. Refuses a Gammu schema of another version instead
    of altering someone's live tables."""
    done: list[str] = []
    with engine.connect() as conn, _one_migrator(conn):
        existing = set(inspect(conn).get_table_names())
        _check_gammu_version(conn, existing)
        _refuse_myisam(conn, existing)
        missing_gammu = [t for t in GAMMU_TABLES if t not in existing]
        if missing_gammu:
            for statement in gammu_statements():
                conn.execute(text(statement))
            done.append("created Gammu tables: " + ", ".join(missing_gammu))
        conn.commit()
        done += _migrate(conn)
    return done


def upgrade_schema(engine: Engine) -> list[str]:
    """Bring the bridge's tables to head; return what was done. Only for a
    database ``db init`` has made (this or an earlier release)."""
    with engine.connect() as conn, _one_migrator(conn):
        existing = set(inspect(conn).get_table_names())
        missing_gammu = [t for t in GAMMU_TABLES if t not in existing]
        if missing_gammu:
            raise SchemaError(
                f"Gammu's tables are missing ({', '.join(missing_gammu)}): "
                "this database was never set up; run `smsbridge db init`."
            )
        _check_gammu_version(conn, existing)
        _refuse_myisam(conn, existing)
        conn.commit()
        return _migrate(conn)


def _migrate(conn: Connection) -> list[str]:
    """Adopt 0.1.0's tables if that is what the database holds, then upgrade."""
    done = _adopt_previous_release(conn)
    applied = migrations.upgrade(conn)
    return done + (applied or [f"schema is up to date (revision {migrations.head_revision()})"])


def _adopt_previous_release(conn: Connection) -> list[str]:
    """smsbridge 0.1.0 made its tables with create_all and kept no version.
    Tables that match the baseline exactly are stamped with it (their rows
    stay); anything else is refused, since no one can tell which migrations
    such tables need."""
    if migrations.has_version_table(conn):
        return []
    existing = set(inspect(conn).get_table_names())
    baseline = migrations.baseline_metadata()
    if not existing & set(baseline.tables):
        return []  # a new database: the migrations create everything
    differences = migrations.differences(conn, baseline, only_its_tables=True)
    if differences:
        raise SchemaError(
            f"the bridge's tables exist without a schema version, but they are not "
            f"smsbridge {migrations.BASELINE_RELEASE}'s, so they cannot be upgraded safely: "
            + "; ".join(migrations.describe(d) for d in differences)
            + f". Bring them to {migrations.BASELINE_RELEASE}'s schema (sql/bridge.sql of that "
            "release) first."
        )
    migrations.stamp(conn, migrations.BASELINE)
    return [
        f"found smsbridge {migrations.BASELINE_RELEASE}'s tables without a schema version; "
        f"they match it, recorded as revision {migrations.BASELINE}"
    ]


@contextlib.contextmanager
def _one_migrator(conn: Connection) -> Iterator[None]:
    """Two `db init`/`db upgrade` at once would race to create the same
    tables: a server-side named lock makes the second wait for the first."""
    got = conn.execute(
        text("SELECT GET_LOCK(:name, :seconds)"), {"name": MIGRATION_LOCK, "seconds": MIGRATION_LOCK_WAIT}
    ).scalar_one()
    if got != 1:
        raise SchemaError(
            f"another `smsbridge db init/upgrade` has held the schema for "
            f"{MIGRATION_LOCK_WAIT} s; try again when it is done."
        )
    try:
        yield
    finally:
        conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MIGRATION_LOCK})
        conn.commit()


def schema_state(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision, the one this code needs)."""
    with engine.connect() as conn:
        return migrations.current_revision(conn), migrations.head_revision()


def schema_problem(current: str | None, head: str) -> str | None:
    """Why a database at ``current`` cannot be served by code that needs
    ``head``, in words naming the fix; None when it can."""
    if current == head:
        return None
    if current is None:
        return (
            "the database has no smsbridge schema version; run `smsbridge db upgrade` "
            "(`smsbridge db init` for a new database)."
        )
    if current not in {r.revision for r in migrations.script_directory().walk_revisions()}:
        return (
            f"the database is at schema revision {current}, which this smsbridge does not "
            f"know (made by a newer release?); this one needs {head}."
        )
    return (
        f"the database is at schema revision {current}, this smsbridge needs {head}: "
        "run `smsbridge db upgrade`."
    )


def require_current_schema(engine: Engine) -> None:
    """Refuse to serve a database whose schema is not the one this code
    was written for: queries would fail at random on missing columns."""
    problem = schema_problem(*schema_state(engine))
    if problem:
        raise SchemaError(problem)


def _check_gammu_version(conn: Connection, existing: set[str]) -> None:
    if "gammu" not in existing:
        return
    versions = conn.scalars(select(GammuVersion.version)).all()
    if versions != [GAMMU_SCHEMA_VERSION]:
        raise SchemaError(
            f"this database holds Gammu schema version {versions or 'none'}, "
            f"smsbridge needs exactly {GAMMU_SCHEMA_VERSION} (gammu-smsd 1.42). "
            "Upgrade it with Gammu's own scripts or use an empty database."
        )


def _refuse_myisam(conn: Connection, existing: set[str]) -> None:
    ours = [t for t in (*GAMMU_TABLES, *migrations.target_metadata().tables) if t in existing]
    if not ours:
        return
    rows = conn.execute(
        text("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    ).all()
    bad = sorted(name for name, engine in rows if name in ours and (engine or "").lower() != "innodb")
    if bad:
        raise SchemaError(
            "these tables are not InnoDB, so hand-offs to gammu-smsd cannot be "
            f"transactional: {', '.join(bad)}. Convert them (ALTER TABLE … ENGINE=InnoDB)."
        )


def create_gammu_account(engine: Engine, user: str, password: str, host: str = "localhost") -> None:
    """A DB account that can touch Gammu's tables only."""
    if not _IDENTIFIER.match(user) or not re.match(r"^[A-Za-z0-9_.%:-]{1,255}$", host):
        raise SchemaError("gammu user and host must be plain identifiers")
    with engine.begin() as conn:
        database = conn.execute(text("SELECT DATABASE()")).scalar_one()
        if not _IDENTIFIER.match(database or ""):
            raise SchemaError(f"database name {database!r} must be letters, digits or _")
        conn.execute(
            text(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY :password"),
            {"password": password},
        )
        conn.execute(text(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY :password"), {"password": password})
        for table, privileges in GAMMU_GRANTS.items():
            conn.execute(text(f"GRANT {privileges} ON `{database}`.`{table}` TO '{user}'@'{host}'"))


def notebook_grants() -> dict[str, list[str] | None]:
    """{table: the columns the notebook may read, or None for all of them}."""
    grants: dict[str, list[str] | None] = {}
    for table in (*GammuBase.metadata.sorted_tables, *migrations.target_metadata().sorted_tables):
        if table.name in NOTEBOOK_HIDDEN_TABLES:
            continue
        hidden = NOTEBOOK_HIDDEN_COLUMNS.get(table.name, set())
        grants[table.name] = [c.name for c in table.columns if c.name not in hidden] if hidden else None
    return grants


def create_notebook_account(engine: Engine, settings: Settings, host: str | None = None) -> str:
    """The reports notebook's account (``reports.notebook_account``): SELECT
    on ``notebook_grants()`` and nothing else, its statements cut off after
    the notebook's time limit. Its password is the ``notebook_db_password``
    setting, else generated once into ``<state_dir>/notebook_db_password``
    (0600), where the web server reads it; running this again sets that
    password and resets the grants to exactly these. Returns
    "'user'@'host'"."""
    url = engine.url
    user = reports.notebook_account(url)
    host = host or ("localhost" if url.host in (None, "", "localhost") else "%")
    if not re.match(r"^[A-Za-z0-9_]{1,80}$", user) or not re.match(r"^[A-Za-z0-9_.%:-]{1,255}$", host):
        raise SchemaError("the notebook's account and host must be plain identifiers")
    password = settings.notebook_db_password or secret_file(settings, reports.PASSWORD_FILE)
    account = f"'{user}'@'{host}'"
    try:
        with engine.begin() as conn:
            database = conn.execute(text("SELECT DATABASE()")).scalar_one()
            if not _IDENTIFIER.match(database or ""):
                raise SchemaError(f"database name {database!r} must be letters, digits or _")
            conn.execute(
                text(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY :password"), {"password": password}
            )
            conn.execute(
                text(
                    f"ALTER USER {account} IDENTIFIED BY :password "
                    f"WITH MAX_STATEMENT_TIME {reports.TIME_LIMIT_SECONDS}"
                ),
                {"password": password},
            )
            conn.execute(text(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"))
            for table, columns in notebook_grants().items():
                what = (
                    "SELECT" if columns is None else "SELECT (" + ", ".join(f"`{c}`" for c in columns) + ")"
                )
                conn.execute(text(f"GRANT {what} ON `{database}`.`{table}` TO {account}"))
    except DBAPIError as exc:
        args = getattr(exc.orig, "args", ())
        if not args or args[0] not in _ACCESS_DENIED:
            raise
        raise SchemaError(
            f"cannot make the notebook's account {account}: {args[-1]}; run "
            "`smsbridge db init` with a database account that may CREATE USER and GRANT"
        ) from None
    return account


def drop_notebook_account(engine: Engine, host: str = "localhost") -> None:
    """For tests and for an operator removing a database."""
    with engine.begin() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{reports.notebook_account(engine.url)}'@'{host}'"))


def bridge_ddl(engine: Engine) -> str:
    """The bridge's DDL as this server would run it (``bridge/sql/bridge.sql``)."""
    with engine.connect():
        pass  # the dialect learns the server (MariaDB quotes more reserved words)
    statements = []
    for table in migrations.target_metadata().sorted_tables:
        statements.append(str(CreateTable(table).compile(engine)).strip() + ";")
        statements += [
            str(CreateIndex(index).compile(engine)).strip() + ";"
            # Every index here has a name (given, or from the ix_ convention).
            for index in sorted(table.indexes, key=lambda i: i.name or "")
        ]
    header = (
        "-- The bridge's own tables. Generated from bridge/models.py by\n"
        "-- `smsbridge db ddl`; `smsbridge db init` creates them.\n\n"
    )
    return header + "\n\n".join(statements) + "\n"
