"""Creating the database: Gammu's schema from ``sql/gammu-17.sql``, the
bridge's from the models, and the least-privilege account for gammu-smsd."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable

from . import reports  # noqa: F401 - its report_cells table is created with the others
from .models import GAMMU_SCHEMA_VERSION, Base, GammuBase, GammuVersion

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
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
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,32}$")


class SchemaError(RuntimeError):
    """The database holds something init cannot work with."""


def gammu_statements() -> list[str]:
    body = "\n".join(line for line in GAMMU_SQL.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("--"))
    return [part.strip() for part in body.split(";") if part.strip()]


def create_database_if_missing(database_url: str) -> None:
    """Connect without a database and create the URL's one (utf8mb4)."""
    from .db import make_engine

    url = make_url(database_url)
    name = url.database
    if not name or not _IDENTIFIER.match(name):
        raise SchemaError(f"database name {name!r} must be letters, digits or _")
    # URL.set() keeps a field given None, so build the server URL anew.
    server = make_engine(URL.create(url.drivername, url.username, url.password, url.host,
                                    url.port, None, url.query))
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` "
                              "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    finally:
        server.dispose()


def init_schema(engine: Engine) -> list[str]:
    """Create what is missing; return what was done. Refuses a Gammu schema
    of another version instead of altering someone's live tables."""
    done: list[str] = []
    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        if "gammu" in existing:
            versions = conn.scalars(select(GammuVersion.version)).all()
            if versions != [GAMMU_SCHEMA_VERSION]:
                raise SchemaError(
                    f"this database holds Gammu schema version {versions or 'none'}, "
                    f"smsbridge needs exactly {GAMMU_SCHEMA_VERSION} (gammu-smsd 1.42). "
                    "Upgrade it with Gammu's own scripts or use an empty database.")
        _refuse_myisam(conn, existing)
        missing_gammu = [t for t in GAMMU_TABLES if t not in existing]
        if missing_gammu:
            for statement in gammu_statements():
                conn.execute(text(statement))
            done.append("created Gammu tables: " + ", ".join(missing_gammu))
        missing_bridge = [t for t in Base.metadata.tables if t not in existing]
        Base.metadata.create_all(conn)
        if missing_bridge:
            done.append("created bridge tables: " + ", ".join(missing_bridge))
        done += _add_missing_columns(conn, existing)
    return done or ["schema is up to date"]


def _add_missing_columns(conn: Connection, existing: set[str]) -> list[str]:
    """A database made by an earlier smsbridge gets the columns added since
    (additive changes only; nothing is dropped or altered)."""
    done = []
    inspector = inspect(conn)
    for table in Base.metadata.sorted_tables:
        if table.name not in existing:
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                spec = str(CreateColumn(column).compile(dialect=conn.dialect)).strip()
                conn.execute(text(f"ALTER TABLE `{table.name}` ADD COLUMN {spec}"))
                done.append(f"added column {table.name}.{column.name}")
    return done


def _refuse_myisam(conn: Connection, existing: set[str]) -> None:
    ours = [t for t in (*GAMMU_TABLES, *Base.metadata.tables) if t in existing]
    if not ours:
        return
    rows = conn.execute(
        text("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
             "WHERE TABLE_SCHEMA = DATABASE()")).all()
    bad = sorted(name for name, engine in rows if name in ours and (engine or "").lower() != "innodb")
    if bad:
        raise SchemaError(
            "these tables are not InnoDB, so hand-offs to gammu-smsd cannot be "
            f"transactional: {', '.join(bad)}. Convert them (ALTER TABLE … ENGINE=InnoDB).")


def create_gammu_account(engine: Engine, user: str, password: str, host: str = "localhost") -> None:
    """A DB account that can touch Gammu's tables only."""
    if not _IDENTIFIER.match(user) or not re.match(r"^[A-Za-z0-9_.%:-]{1,255}$", host):
        raise SchemaError("gammu user and host must be plain identifiers")
    with engine.begin() as conn:
        database = conn.execute(text("SELECT DATABASE()")).scalar_one()
        if not _IDENTIFIER.match(database or ""):
            raise SchemaError(f"database name {database!r} must be letters, digits or _")
        conn.execute(text(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY :password"),
                     {"password": password})
        conn.execute(text(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY :password"),
                     {"password": password})
        for table, privileges in GAMMU_GRANTS.items():
            conn.execute(text(f"GRANT {privileges} ON `{database}`.`{table}` TO '{user}'@'{host}'"))


def bridge_ddl(engine: Engine) -> str:
    """The bridge's DDL as this server would run it (``sql/bridge.sql``)."""
    with engine.connect():
        pass    # the dialect learns the server (MariaDB quotes more reserved words)
    statements = []
    for table in Base.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(engine)).strip() + ";")
        statements += [str(CreateIndex(index).compile(engine)).strip() + ";"
                       for index in sorted(table.indexes, key=lambda i: i.name)]
    header = ("-- The bridge's own tables. Generated from bridge/models.py by\n"
              "-- `smsbridge db ddl`; `smsbridge db init` creates them.\n\n")
    return header + "\n\n".join(statements) + "\n"
