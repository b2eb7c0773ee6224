"""Schema migrations on the real MariaDB: a database of the previous release
(0.1.0, before migrations) is adopted with every row, the migrations build
exactly what the models declare, and upgrading an up-to-date database does
nothing. The previous release is ``tests/data/bridge-0.1.0.sql``, frozen:
never regenerate it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, column, inspect, select, table, text

import cli
from bridge import migrations, schema
from bridge.db import make_engine

PREVIOUS_RELEASE_SQL = Path(__file__).parent / "data" / "bridge-0.1.0.sql"

# Rows in every bridge table, written as 0.1.0 stored them (plain SQL, not
# the models, which move on).
PREVIOUS_RELEASE_ROWS = [
    "INSERT INTO users (id, login, password_hash, is_admin, blocked) VALUES "
    "(1, 'shop', 'argon2-hash-1', 0, 0), (2, 'boss', 'argon2-hash-2', 1, 1)",
    "INSERT INTO api_keys (user_id, key_hash, prefix, created_at, revoked_at) VALUES "
    "(1, REPEAT('a', 64), 'sb_aaaa', '2025-01-02 03:04:05', NULL), "
    "(2, REPEAT('b', 64), 'sb_bbbb', '2025-01-02 03:04:06', '2025-02-01 00:00:00')",
    "INSERT INTO sims (id, name, number, owner_id, enabled, monthly_limit, billing_day, device, "
    "connection, simulated, delivery_report, healthy, health_changed_at) VALUES "
    "(1, 'mts1', '+79161234567', 1, 1, 3000, 5, '/dev/ttyUSB4', 'at', 0, 1, 1, '2025-01-03 00:00:00'), "
    "(2, 'sim2', '+79031234567', NULL, 0, NULL, 1, NULL, NULL, 1, 0, 0, NULL)",
    "INSERT INTO sim_usage (sim_id, period_start, parts) VALUES (1, '2025-01-05', 12), (2, '2025-01-01', 0)",
    "INSERT INTO send_requests (id, user_id, idempotency_key, payload_hash, source, created_at) VALUES "
    "(1, 1, 'order-17', REPEAT('c', 64), 'api', '2025-01-04 10:00:00'), "
    "(2, 1, NULL, REPEAT('d', 64), 'cli', '2025-01-04 11:00:00')",
    "INSERT INTO messages (id, request_id, user_id, recipient, text, flash, priority, status, "
    "attempts_allowed, attempts_made, parts, sim_id, due_at, send_at, expires_at, wait_reason, "
    "last_error, delivery_report, delivery_status, callback_url, ignore_opt_out, created_at, "
    "dispatched_at, sent_at, finished_at) VALUES "
    "(1, 1, 1, '+79991234567', 'Привет 👋', 0, 5, 'delivered', 2, 1, 1, 1, '2025-01-04 10:00:00', "
    "NULL, NULL, NULL, NULL, 1, 0, 'https://example.org/cb', 0, '2025-01-04 10:00:00', "
    "'2025-01-04 10:00:01', '2025-01-04 10:00:09', '2025-01-04 10:01:00'), "
    "(2, 2, 1, '+79991234568', 'later', 1, 0, 'queued', 1, 0, NULL, NULL, '2025-01-05 00:00:00', "
    "'2025-01-05 00:00:00', '2025-01-06 00:00:00', 'no SIM is healthy', NULL, NULL, NULL, NULL, 1, "
    "'2025-01-04 11:00:00', NULL, NULL, NULL)",
    "INSERT INTO message_attempts (message_id, sim_id, outbox_id, parts, period_start, outcome, error, "
    "dispatched_at, finished_at) VALUES "
    "(1, 1, 77, 1, '2025-01-05', 'sent', NULL, '2025-01-04 10:00:01', '2025-01-04 10:00:09')",
    "INSERT INTO inbound_messages (id, sim_id, sim_name, sender, text, parts, complete, user_id, "
    "received_at, created_at) VALUES "
    "(1, 1, 'mts1', '+79997654321', 'STOP', 1, 1, 1, '2025-01-06 08:00:00', '2025-01-06 08:00:02')",
    "INSERT INTO inbound_parts (inbox_id, sim_name, sender, text, reference, total, sequence, "
    "received_at, message_id) VALUES "
    "(5, 'mts1', '+79997654321', 'STOP', NULL, 1, 1, '2025-01-06 08:00:00', 1)",
    "INSERT INTO rules (id, user_id, position, match_kind, pattern, action, argument, secret, enabled, "
    "created_at) VALUES (1, NULL, 1, 'keyword', 'stop', 'opt_out', NULL, NULL, 1, '2025-01-01 00:00:00'), "
    "(2, 1, 2, 'regex', 'price|цена', 'forward_url', 'https://example.org/in', REPEAT('e', 64), 0, "
    "'2025-01-01 00:00:00')",
    "INSERT INTO rule_results (inbound_id, rule_id, label, outcome, detail, created_at) VALUES "
    "(1, 1, 'keyword stop -> opt_out', 'done', 'opted out', '2025-01-06 08:00:03')",
    "INSERT INTO opt_outs (phone, reason, source, created_at) VALUES "
    "('+79997654321', 'texted STOP', 'sms', '2025-01-06 08:00:03')",
    "INSERT INTO opt_out_events (phone, action, reason, source, actor, created_at) VALUES "
    "('+79997654321', 'added', 'texted STOP', 'sms', '+79997654321', '2025-01-06 08:00:03')",
    "INSERT INTO webhooks (user_id, url, secret, created_at) VALUES "
    "(1, 'https://example.org/hook', REPEAT('f', 64), '2025-01-01 00:00:00')",
    "INSERT INTO webhook_deliveries (id, user_id, event, url, secret, payload, status, attempts, "
    "next_attempt_at, last_error, created_at, delivered_at) VALUES "
    "(REPEAT('1', 32), 1, 'sms:sent', 'https://example.org/hook', REPEAT('f', 64), '{\"id\": 1}', "
    "'failed', 3, '2025-01-04 12:00:00', 'HTTP 500', '2025-01-04 10:00:09', NULL)",
    "INSERT INTO report_cells (position, title, kind, query, chart, updated_at) VALUES "
    "(1, 'Sent per day', 'sql', 'SELECT DATE(sent_at), COUNT(*) FROM messages GROUP BY 1', 'bar', "
    "'2025-01-01 00:00:00')",
]


def invoke(runner, *args):
    return runner.invoke(cli.main, list(args), catch_exceptions=False)


def load(engine: Engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def rows_of_every_table(engine: Engine, columns_of: dict | None = None) -> dict[str, tuple]:
    """{table: (its columns, its rows sorted)}; with ``columns_of``, only
    those tables and columns (the ones a database had before upgrading)."""
    with engine.connect() as conn:
        names = list(columns_of) if columns_of else inspect(conn).get_table_names()
        found = {}
        for name in names:
            columns = (
                columns_of[name][0]
                if columns_of
                else tuple(c["name"] for c in inspect(conn).get_columns(name))
            )
            query = select(*[column(c) for c in columns]).select_from(table(name))
            found[name] = (columns, sorted(map(tuple, conn.execute(query).all()), key=repr))
        return found


def create_statements(engine: Engine, names) -> dict[str, str]:
    """SHOW CREATE TABLE of each table, without the AUTO_INCREMENT counter."""
    with engine.connect() as conn:
        return {
            name: re.sub(
                r" AUTO_INCREMENT=\d+", "", conn.execute(text(f"SHOW CREATE TABLE `{name}`")).one()[1]
            )
            for name in names
        }


@pytest.fixture
def scratch_engine(scratch_databases):
    engines = []

    def make() -> Engine:
        url = scratch_databases()
        schema.create_database_if_missing(url)
        engines.append(make_engine(url))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def previous_release(scratch_engine):
    """A database as smsbridge 0.1.0's `db init` left it, with rows in every table."""
    engine = scratch_engine()
    load(
        engine,
        [*schema.gammu_statements(), *schema.sql_statements(PREVIOUS_RELEASE_SQL), *PREVIOUS_RELEASE_ROWS],
    )
    return engine


@pytest.fixture
def on_database(runner, monkeypatch):
    """Point the CLI (through ``runner``) at another database."""

    def point(engine: Engine) -> None:
        monkeypatch.setenv("SMSBRIDGE_DATABASE_URL", engine.url.render_as_string(hide_password=False))

    return point


@pytest.mark.parametrize("command", ["init", "upgrade"])
def test_a_database_of_the_previous_release_keeps_every_row(previous_release, runner, on_database, command):
    before = rows_of_every_table(previous_release)
    # The tables 0.1.0 had; later revisions add empty ones.
    bridge_tables = migrations.baseline_metadata().tables
    assert all(before[name][1] for name in bridge_tables), "every table of 0.1.0 should hold rows"
    on_database(previous_release)

    result = invoke(runner, "db", command)

    assert result.exit_code == 0, result.output
    assert "found smsbridge 0.1.0's tables without a schema version; they match it" in result.output
    assert rows_of_every_table(previous_release, columns_of=before) == before
    with previous_release.connect() as conn:
        assert migrations.current_revision(conn) == migrations.head_revision()
    assert invoke(runner, "db", "status").output.endswith("up to date\n")


def test_cells_from_before_notebooks_go_to_a_notebook_named_reports(previous_release, runner, on_database):
    on_database(previous_release)
    assert invoke(runner, "db", "upgrade").exit_code == 0
    with previous_release.connect() as conn:
        rows = conn.execute(
            text("SELECT n.name, c.title FROM report_cells c JOIN notebooks n ON n.id = c.notebook_id")
        ).all()
    assert [tuple(r) for r in rows] == [("Reports", "Sent per day")]


def test_tables_unlike_the_previous_release_are_refused_and_left_alone(previous_release, runner, on_database):
    # What a development version before 0.1.0 left: a column short.
    load(previous_release, ["ALTER TABLE messages DROP COLUMN callback_url"])
    on_database(previous_release)

    result = invoke(runner, "db", "init")

    assert result.exit_code == 1
    assert "add_column messages.callback_url" in result.output and "Traceback" not in result.output
    with previous_release.connect() as conn:
        assert not migrations.has_version_table(conn)


def test_the_baseline_builds_exactly_the_previous_release_schema(previous_release, scratch_engine):
    fresh = scratch_engine()
    with fresh.connect() as conn:
        assert migrations.upgrade(conn, migrations.BASELINE)[0].startswith("applied 0001:")
    names = migrations.baseline_metadata().tables
    assert create_statements(fresh, names) == create_statements(previous_release, names)


def test_migrations_build_exactly_what_the_models_declare(engine):
    with engine.connect() as conn:
        assert migrations.current_revision(conn) == migrations.head_revision()
        assert migrations.differences(conn, migrations.target_metadata()) == []


@pytest.mark.parametrize(
    "change, reported",
    [
        ("ALTER TABLE sims MODIFY number VARCHAR(30) NOT NULL", "modify_type sims.number"),
        ("ALTER TABLE users ALTER created_at DROP DEFAULT", "modify_default users.created_at"),
        (
            "ALTER TABLE messages DROP INDEX ix_messages_claim, "
            "ADD INDEX ix_messages_claim (status, priority, due_at, id)",
            "index messages.ix_messages_claim",
        ),
        (
            "ALTER TABLE messages DROP INDEX ix_messages_user_created, "
            "ADD INDEX ix_messages_user_created (user_id, created_at DESC)",
            "change_index_order messages.ix_messages_user_created",
        ),
        ("ALTER TABLE outbox ADD COLUMN Note TEXT", None),  # Gammu's: not the migrations' business
    ],
)
def test_the_comparison_sees_what_mariadb_reflects_poorly(scratch_engine, change, reported):
    database = scratch_engine()
    schema.init_schema(database)
    load(database, [change])
    with database.connect() as conn:
        found = [migrations.describe(d) for d in migrations.differences(conn, migrations.target_metadata())]
    if reported is None:
        assert found == []
    else:
        assert any(reported in line for line in found), found


def test_upgrade_of_an_up_to_date_database_does_nothing(engine, runner):
    names = inspect(engine).get_table_names()
    before = create_statements(engine, names)

    result = invoke(runner, "db", "upgrade")

    assert result.exit_code == 0
    schema_line, account_line = result.output.splitlines()
    assert schema_line == f"schema is up to date (revision {migrations.head_revision()})"
    assert account_line.startswith("reports notebook account")  # its grants refreshed
    assert create_statements(engine, names) == before


def test_services_refuse_a_database_behind_the_code(previous_release, runner, on_database):
    on_database(previous_release)
    for command in (["worker"], ["web"], ["run"]):
        result = invoke(runner, *command)
        assert result.exit_code == 1, result.output
        assert "run `smsbridge db upgrade`" in result.output and len(result.output.splitlines()) == 1
    status = invoke(runner, "db", "status")
    assert status.exit_code == 1 and "database: no schema version" in status.output


def test_services_refuse_a_database_a_newer_release_migrated(engine, runner):
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '9999'"))
    try:
        result = invoke(runner, "worker")
        assert result.exit_code == 1 and "9999, which this smsbridge does not know" in result.output
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = :head"),
                {"head": migrations.head_revision()},
            )


def test_upgrade_wants_an_initialised_database(scratch_engine, runner, on_database):
    on_database(scratch_engine())
    result = invoke(runner, "db", "upgrade")
    assert result.exit_code == 1 and "run `smsbridge db init`" in result.output
