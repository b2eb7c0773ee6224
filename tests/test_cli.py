"""The command line, through click's runner against the real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError, ProgrammingError

import cli
from bridge import migrations, users
from bridge.clock import utcnow
from bridge.db import make_engine
from bridge.models import GammuVersion, Message, Sim, User
from bridge.schema import SQL_DIR, bridge_ddl, create_gammu_account, init_schema
from bridge.smsd import config_path


def invoke(runner, *args, input=None):
    result = runner.invoke(cli.main, list(args), input=input, catch_exceptions=False)
    return result


def test_user_sim_and_send_provisioning_round_trip(runner, sessions, settings, modems):
    assert (
        invoke(runner, "user", "add", "shop", "--password-stdin", input="long enough password\n").exit_code
        == 0
    )
    token = invoke(runner, "user", "token", "shop")
    key = token.output.split()[-1]
    assert key.startswith("sb_") and len(key) > 30

    added = invoke(
        runner,
        "sim",
        "add",
        "mts1",
        "--number",
        "8 (916) 123-45-67",
        "--device",
        "/dev/ttyUSB4",
        "--monthly-limit",
        "3000",
        "--billing-day",
        "5",
        "--user",
        "shop",
    )
    assert added.exit_code == 0, added.output
    config = config_path(settings, "mts1").read_text()
    assert "PhoneID = mts1" in config and "device = /dev/ttyUSB4" in config
    assert "StatusFrequency = 1" in config and "CommTimeout = 1" in config
    assert oct(config_path(settings, "mts1").stat().st_mode & 0o777) == "0o600"
    with sessions.begin() as session:
        sim = session.scalar(select(Sim).where(Sim.name == "mts1"))
        assert (sim.number, sim.monthly_limit, sim.billing_day) == ("+79161234567", 3000, 5)

    listing = invoke(runner, "sim", "list")
    assert "mts1" in listing.output and "0/3000" in listing.output and " dead " in listing.output

    sent = invoke(runner, "send", "--to", "+79991234567,+79991234568", "--text", "hi", "--user", "shop")
    assert sent.exit_code == 0 and sent.output.count("queued") == 2


def test_send_schedules_in_the_users_zone_limits_validity_and_picks_a_sim(
    runner, sessions, make_user, modems
):
    make_user("root", admin=True)
    make_user("shop")
    modems.add("mts1", start=False)
    with sessions.begin() as session:
        users.set_send_window(session, "root", None, "Europe/Moscow")  # UTC+3, no DST
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    sent = invoke(
        runner, "send", "--to", "+79991234567", "--text", "hi", "--user", "root",
        "--send-at", f"{tomorrow:%Y-%m-%d} 09:30", "--valid-for", "3600", "--sim", "mts1",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    with sessions.begin() as session:
        [message] = session.scalars(select(Message)).all()
        mts1 = session.scalar(select(Sim.id).where(Sim.name == "mts1"))
        assert message.send_at == tomorrow.replace(hour=6)  # 09:30 Moscow is 06:30 UTC
        assert message.expires_at == tomorrow.replace(hour=7)
        assert message.only_sim_id == mts1

    past = invoke(
        runner,
        "send",
        "--to",
        "+79991234567",
        "--text",
        "x",
        "--user",
        "root",
        "--send-at",
        "2020-01-01 10:00",
    )
    not_admin = invoke(
        runner, "send", "--to", "+79991234567", "--text", "x", "--user", "shop", "--sim", "mts1"
    )
    no_validity = invoke(
        runner, "send", "--to", "+79991234567", "--text", "x", "--user", "shop", "--valid-for", "0"
    )
    assert past.exit_code == 1 and "send_at" in past.output and "in the past" in past.output
    assert not_admin.exit_code == 1 and "only an admin may choose the SIM" in not_admin.output
    assert no_validity.exit_code == 1 and "valid_for" in no_validity.output
    assert "Traceback" not in past.output + not_admin.output + no_validity.output
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1  # nothing more stored


def test_operator_mistakes_are_one_clear_line(runner, sessions, make_user):
    make_user("shop")
    duplicate = invoke(runner, "user", "add", "shop", "--password-stdin", input="long enough pw\n")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = invoke(runner, "user", "add", "bob", "--password-stdin", input="short\n")
    assert "at least 8" in short.output
    both = invoke(
        runner, "sim", "add", "x", "--number", "+79161234567", "--device", "/dev/ttyUSB0", "--simulated"
    )
    assert both.exit_code == 1 and "either a device" in both.output
    bad_number = invoke(runner, "sim", "add", "x", "--number", "12", "--simulated")
    assert "SIM number" in bad_number.output
    assert "no SIM" in invoke(runner, "sim", "set", "ghost", "--monthly-limit", "5").output
    assert "Traceback" not in duplicate.output + both.output + bad_number.output


def test_block_and_unblock(runner, sessions, make_user):
    make_user("shop")
    invoke(runner, "user", "block", "shop")
    with sessions.begin() as session:
        assert session.scalar(select(User.blocked).where(User.login == "shop")) is True
    invoke(runner, "user", "unblock", "shop")
    with sessions.begin() as session:
        assert session.scalar(select(User.blocked).where(User.login == "shop")) is False


def test_init_is_idempotent_and_refuses_another_gammu_version(engine, sessions):
    assert init_schema(engine) == [f"schema is up to date (revision {migrations.head_revision()})"]
    with sessions.begin() as session:
        session.execute(update(GammuVersion).values(version=16))
    try:
        try:
            init_schema(engine)
        except Exception as exc:
            assert "version [16]" in str(exc) and "needs exactly 17" in str(exc)
        else:
            raise AssertionError("init accepted schema version 16")
    finally:
        with sessions.begin() as session:
            session.execute(update(GammuVersion).values(version=17))


def test_gammu_account_reaches_gammu_tables_only(engine, settings):
    create_gammu_account(engine, "sbtest_gammu", "s3cret-pass")
    database = engine.url.database
    url = engine.url.set(username="sbtest_gammu", password="s3cret-pass")
    limited = make_engine(url)
    try:
        with limited.connect() as conn:
            conn.execute(text("SELECT COUNT(*) FROM outbox"))
            for forbidden in ("SELECT * FROM users", "SELECT * FROM messages"):
                try:
                    conn.execute(text(forbidden))
                except (OperationalError, ProgrammingError) as exc:
                    assert "denied" in str(exc)
                else:
                    raise AssertionError(f"gammu account could run {forbidden!r} in {database}")
    finally:
        limited.dispose()
        with engine.begin() as conn:
            conn.execute(text("DROP USER 'sbtest_gammu'@'localhost'"))


def test_committed_bridge_sql_is_what_the_models_generate(engine):
    assert (SQL_DIR / "bridge.sql").read_text() == bridge_ddl(engine)


def test_rules_are_added_listed_moved_and_removed(runner, sessions, make_user):
    make_user("shop")
    assert invoke(runner, "rule", "add", "--keyword", "hours", "--reply", "9-18").exit_code == 0
    added = invoke(
        runner,
        "rule",
        "add",
        "--user",
        "shop",
        "--regex",
        "price|цена",
        "--forward-url",
        "http://127.0.0.1:9/hook",
    )
    assert added.exit_code == 0 and "signed" in added.output
    listing = invoke(runner, "rule", "list").output.splitlines()
    assert listing[0].startswith("1. #") and "'hours' -> reply 9-18" in listing[0]
    second_id = listing[1].split("#")[1].split()[0]
    invoke(runner, "rule", "move", second_id, "1")
    assert f"#{second_id} [shop]" in invoke(runner, "rule", "list").output.splitlines()[0]
    invoke(runner, "rule", "remove", second_id)
    assert len(invoke(runner, "rule", "list").output.splitlines()) == 1
    both = invoke(runner, "rule", "add", "--keyword", "x", "--reply", "a", "--opt-out")
    assert both.exit_code == 2 and "exactly one action" in both.output
    bad = invoke(runner, "rule", "add", "--regex", "(", "--reply", "a")
    assert bad.exit_code == 1 and "not a regular expression" in bad.output


def test_opt_out_list_keeps_who_when_and_why(runner, sessions):
    from bridge.optouts import history

    assert "added" in invoke(runner, "optout", "add", "8 999 111-22-33", "--reason", "asked by phone").output
    assert "+79991112233" in invoke(runner, "optout", "list").output
    assert "removed" in invoke(runner, "optout", "remove", "+79991112233", "--reason", "texted us").output
    with sessions.begin() as session:
        events = [(e.action, e.reason, e.source) for e in history(session, "+79991112233")]
    assert events == [("added", "asked by phone", "cli"), ("removed", "texted us", "cli")]


def test_webhook_set_prints_the_secret_last(runner, make_user):
    make_user("shop")
    result = invoke(runner, "webhook", "set", "--user", "shop", "--url", "http://127.0.0.1:9/hook")
    assert result.exit_code == 0 and len(result.output.split()[-1]) == 64
