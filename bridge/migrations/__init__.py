"""Schema migrations of the bridge's own tables, with Alembic.

Invariants:

- Alembic owns the tables of ``Base.metadata`` and nothing else. Gammu's
  tables follow Gammu's versioned SQL (``bridge/sql/gammu-17.sql``), so comparison
  never looks at them (``include_name``).
- The revision a database has is in ``smsbridge_alembic_version``: a name
  that can clash neither with Gammu's tables nor with another application's
  ``alembic_version`` in a shared database.
- Migrations run only on a connection the caller made with
  ``bridge.db.make_engine`` (utf8mb4, UTC, READ COMMITTED), handed to
  ``env.py`` in ``Config.attributes``; ``env.py`` never connects by itself,
  and there is no alembic.ini for anyone to edit.
- Revision ids are numbers in order ("0001", "0002", …); "0001" is the
  schema of smsbridge 0.1.0, the last release without migrations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, ColumnElement, Connection, Index, MetaData, Table, TextClause, inspect, text

from ..models import Base, GammuBase

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSION_TABLE = "smsbridge_alembic_version"
BASELINE = "0001"
BASELINE_RELEASE = "0.1.0"
GAMMU_TABLES = frozenset(GammuBase.metadata.tables)


def target_metadata() -> MetaData:
    """Every bridge table (Gammu's are declared on another base)."""
    return Base.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # "0002_add_sim_notes.py": the revision id first, so files sort in order.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def context_options(conn: Connection, include_table: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """How env.py and every comparison configure Alembic, so that what
    ``db upgrade`` runs and what the tests compare agree. ``conn`` is the
    connection being compared (for what reflection cannot see)."""

    def include_name(name: str | None, type_: str, _parents: dict[str, str | None]) -> bool:
        if type_ != "table":
            return True
        if name in GAMMU_TABLES:
            return False
        return include_table is None or include_table(name or "")

    def include_object(item: Any, _name: str | None, type_: str, _reflected: bool, compare_to: Any) -> bool:
        # An index Alembic calls changed is compared again on the server's own
        # terms when only the sort order may differ; see _same_index_on_server.
        if type_ == "index" and compare_to is not None:
            return not _same_index_on_server(conn, item)
        return True

    return {
        "version_table": VERSION_TABLE,
        "include_name": include_name,
        "include_object": include_object,
        "compare_type": True,
        "compare_server_default": True,
    }


# One part of an index given as text: "priority DESC", "`position`".
_SORTED_PART = re.compile(r"^`?(\w+)`?(?:\s+(ASC|DESC))?$", re.IGNORECASE)


def _descending_on_server_only(conn: Connection, metadata: MetaData) -> list[tuple[str, Index]]:
    """The other half of _same_index_on_server: where the model's index is
    plain columns (all ascending) and the server's has a DESC part, Alembic
    sees two equal indexes and never asks include_object."""
    found = []
    rows = conn.execute(
        text(
            "SELECT DISTINCT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND COLLATION = 'D'"
        )
    ).all()
    for table_name, index_name in rows:
        table = metadata.tables.get(table_name)
        for index in table.indexes if table is not None else ():
            if index.name == index_name and all(isinstance(e, Column) for e in index.expressions):
                found.append(("change_index_order", index))
    return found


def _same_index_on_server(conn: Connection, index: Index) -> bool:
    """SQLAlchemy reflects a MariaDB index without its sort order, so Alembic
    sees ``ix_messages_claim (status, priority DESC, …)`` as changed on every
    comparison. information_schema knows the order (COLLATION 'A' or 'D'):
    compare the model's index with that instead. Anything this cannot read
    as plain columns with ASC/DESC stays "changed"."""
    wanted = []
    for expression in index.expressions:
        if isinstance(expression, Column):
            wanted.append((expression.name, "A"))
            continue
        match = _SORTED_PART.match(str(expression).strip())
        if match is None:
            return False
        wanted.append((match[1], "D" if (match[2] or "").upper() == "DESC" else "A"))
    table = index.table
    assert table is not None  # a model's index, so on its table
    rows = conn.execute(
        text(
            "SELECT COLUMN_NAME, COLLATION, NON_UNIQUE FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table AND INDEX_NAME = :index "
            "ORDER BY SEQ_IN_INDEX"
        ),
        {"table": table.name, "index": index.name},
    ).all()
    return (
        bool(rows)
        and [(r.COLUMN_NAME, r.COLLATION) for r in rows] == wanted
        and all(bool(r.NON_UNIQUE) != bool(index.unique) for r in rows)
    )


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    assert head is not None, "bridge/migrations/versions holds no revision"
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision recorded in the database; None when it has no version table
    (empty, or made before migrations existed)."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def has_version_table(conn: Connection) -> bool:
    return inspect(conn).has_table(VERSION_TABLE)


def upgrade(conn: Connection, target: str = "head") -> list[str]:
    """Upgrade to ``target``; one line per revision applied. Alembic commits
    after each revision (MariaDB cannot roll DDL back anyway), so a failed
    one leaves the database at the revision before it, recorded as such."""
    before = current_revision(conn)
    conn.commit()  # ends our read: Alembic frames its own transactions only outside one
    command.upgrade(alembic_config(conn), target)
    conn.commit()
    after = current_revision(conn)
    if after == before:
        return []
    return [
        f"applied {revision.revision}: {revision.doc}"
        for revision in reversed(list(script_directory().iterate_revisions(after, before)))
    ]


def stamp(conn: Connection, revision: str) -> None:
    """Record ``revision`` as the database's without running anything."""
    conn.commit()  # as in upgrade()
    command.stamp(alembic_config(conn), revision)
    conn.commit()


def differences(conn: Connection, metadata: MetaData, *, only_its_tables: bool = False) -> list[Any]:
    """What autogenerate finds between the database and ``metadata`` (with
    ``only_its_tables``, other tables of the database are not reported),
    plus the index sort orders it cannot see (_descending_on_server_only)."""
    context = MigrationContext.configure(
        conn,
        opts=context_options(
            conn, include_table=(lambda name: name in metadata.tables) if only_its_tables else None
        ),
    )
    return [*compare_metadata(context, metadata), *_descending_on_server_only(conn, metadata)]


def describe(difference: Any) -> str:
    """One autogenerate difference in words: ``add_column messages.callback_url``."""
    if isinstance(difference, list):  # modify_* come as a list of one-item tuples
        return "; ".join(describe(item) for item in difference)
    kind, *rest = difference
    if kind.startswith("modify_"):  # (kind, schema, table, column, {…}, old, new)
        return f"{kind} {rest[1]}.{rest[2]}: {rest[-2]!r} -> {rest[-1]!r}"
    if len(rest) == 1 and isinstance(rest[0], Table):
        return f"{kind} {rest[0].name}"
    if len(rest) == 1 and hasattr(rest[0], "columns"):  # an index or a constraint
        item = rest[0]
        parts = ", ".join(
            e.name if isinstance(e, Column) else str(e) for e in getattr(item, "expressions", item.columns)
        )
        return f"{kind} {item.table.name}.{item.name or ''}({parts})"
    return f"{kind} " + ".".join(str(getattr(part, "name", part)) for part in rest if part is not None)


class _Recorder:
    """Stands in for Alembic's DDL implementation: keeps the tables and
    indexes a revision creates, in one MetaData, instead of creating them."""

    def __init__(self) -> None:
        self.metadata = MetaData()

    def create_table(self, table: Table, **_kw: Any) -> None:
        table.to_metadata(self.metadata)

    def create_index(self, index: Index, **_kw: Any) -> None:
        assert index.table is not None  # Alembic builds it on a stand-in table
        table = self.metadata.tables[index.table.name]
        # Alembic hands over columns of a stand-in table, and text() parts
        # ("priority DESC") wrapped to look like columns: key them anew.
        Index(
            index.name,
            *[self._part(table, e) for e in index.expressions],
            unique=index.unique,
            **index.kwargs,
        )

    @staticmethod
    def _part(table: Table, expression: str | ColumnElement[Any]) -> Column[Any] | TextClause:
        # Never a bare string: a column keyed by its name, or a wrapped
        # text() keyed by its text.
        assert isinstance(expression, ColumnElement) and expression.key is not None
        key = expression.key
        return table.c[key] if key in table.c else text(key)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the baseline may only create tables and indexes, not {name}")


def baseline_metadata() -> MetaData:
    """The tables the baseline revision creates, as a MetaData: its own
    ``op.create_table``/``op.create_index`` calls, recorded instead of run,
    so the revision file stays the one statement of 0.1.0's schema."""
    module = script_directory().get_revision(BASELINE).module
    recorder = _Recorder()
    with Operations.context(MigrationContext.configure(dialect_name="mysql")) as operations:
        # What every op's implementation hands its DDL to; a stand-in for
        # Alembic's DefaultImpl that refuses all but the two calls it records.
        operations.impl = cast(DefaultImpl, recorder)
        module.upgrade()
    return recorder.metadata


def new_revision(conn: Connection, message: str) -> Path:
    """Draft the next revision by comparing the database (at head) with the
    models; a person reviews it before committing."""
    script = script_directory()
    number = len(list(script.walk_revisions())) + 1
    config = alembic_config(conn)
    made = command.revision(config, message=message, autogenerate=True, rev_id=f"{number:04d}")
    assert made is not None and not isinstance(made, list)
    return Path(made.path)
