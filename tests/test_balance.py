"""Balance by USSD through the real gammu-smsd: an outbox row with Class
127, the answer in inbox with Class 127.

Gammu's dummy phone answers a dialled service code by itself ("Reply for
*100#", status 2 "no action needed": ``DUMMY_DialService`` in
libgammu/phone/dummy/dummy.c), so these tests need no fake: the daemon
dials, the dummy answers, gammu-smsd writes the inbox row. An operator's
real wording ("Баланс: 123,45 р.") is checked on the amount reader alone."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

import cli
from bridge import balance
from bridge.clock import utcnow
from bridge.jobs import passes
from bridge.jobs.inbound import receive
from bridge.models import BalanceCheck, InboundMessage, Inbox, Outbox, Sim, SimEvent
from tests.conftest import wait_for
from tests.test_admin_pages import log_in, post


def invoke(runner, *args):
    return runner.invoke(cli.main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "answer, amount",
    [
        ("Баланс: 123,45 р.", Decimal("123.45")),
        ("Ваш баланс 1 234,56 руб. Бонусы: 10", Decimal("1234.56")),
        ("Balance: -12.50 RUB", Decimal("-12.50")),
        ("Баланс минус 7,10 р", Decimal("-7.10")),
        ("Остаток 50 руб", Decimal("50")),
        ("Услуга недоступна", None),
    ],
)
def test_the_default_pattern_reads_operators_answers(answer, amount):
    assert balance.read_amount(answer) == amount


def test_sim_balance_dials_the_code_and_prints_the_answer(modems, sessions, settings, runner):
    modems.add("sim1")
    assert invoke(runner, "sim", "balance", "sim1").exit_code == 1  # no code yet: says so
    assert invoke(runner, "sim", "set", "sim1", "--balance-pattern", r"for \*(\d+)#").exit_code == 0

    result = invoke(runner, "sim", "balance", "sim1", "--code", "*100#", "--wait", "30")

    assert result.exit_code == 0, result.output
    assert "'Reply for *100#'" in result.output and "amount 100" in result.output
    with sessions.begin() as session:
        check = session.scalar(select(BalanceCheck))
        assert (check.state, check.code, check.ussd_status, check.amount) == ("answered", "*100#", 2, 100)
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0  # the daemon took it
        # The answer is Gammu's Class 127 inbox row, and no text for the rules.
        assert session.scalar(select(Inbox.sms_class)) == balance.USSD_CLASS
        receive(session, settings)
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0
    listed = json.loads(invoke(runner, "sim", "list", "--json").output)[0]
    assert listed["balance"] == 100.0 and listed["balance_answer"] == "Reply for *100#"


def test_a_scheduled_check_runs_keeps_history_and_raises_balance_low(
    modems, sessions, settings, runner, client, make_user
):
    modems.add("sim1")
    assert (
        invoke(
            runner,
            "sim",
            "set",
            "sim1",
            "--balance-code",
            "*102#",
            "--balance-every",
            "6",
            "--balance-pattern",
            r"for \*(\d+)#",
            "--balance-low",
            "150",
        ).exit_code
        == 0
    )

    assert passes.balance_pass(sessions, settings).asked == 1
    wait_for(lambda: passes.balance_pass(sessions, settings).answered, what="the USSD answer")
    assert passes.balance_pass(sessions, settings).asked == 0  # not due again for 6 hours

    with sessions.begin() as session:
        check = session.scalar(select(BalanceCheck))
        assert check.amount == 102 and check.state == "answered"
        assert session.scalar(select(SimEvent.kind)) == "balance_low"
        # Six hours later it is due again.
        session.execute(update(BalanceCheck).values(requested_at=utcnow() - timedelta(hours=6, seconds=1)))
    assert passes.balance_pass(sessions, settings).asked == 1
    wait_for(lambda: passes.balance_pass(sessions, settings).answered, what="the second answer")
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(BalanceCheck)) == 2
        assert session.scalar(select(func.count()).select_from(SimEvent)) == 1  # low once, not per check

    listing = invoke(runner, "sim", "list").output
    assert "102.00 at" in listing and "LOW" in listing
    admin = make_user("root", admin=True)
    api = client.get("/api/v1/sims", headers={"Authorization": f"Bearer {admin['key']}"}).get_json()[0]
    assert api["balance"] == 102.0 and api["balance_low"] is True and api["balance_every"] == 6
    log_in(client, admin)
    assert "102.00" in client.get("/admin/").get_data(as_text=True)
    page = client.get("/admin/sims/sim1/").get_data(as_text=True)
    assert page.count("Reply for *102#") >= 2  # the history


def test_a_request_nobody_dials_ends_unanswered_and_is_withdrawn(modems, sessions, settings):
    modems.add("sim1", start=False)
    with sessions.begin() as session:  # its heartbeat is alive as far as the bridge knows
        session.execute(update(Sim).values(healthy=True))
        balance.ask(session, session.scalar(select(Sim)), "*100#")
    with sessions.begin() as session:
        later = utcnow() + timedelta(seconds=settings.balance_timeout + 1)
        assert balance.settle(session, timeout=settings.balance_timeout, now=later) == 1
    with sessions.begin() as session:
        check = session.scalar(select(BalanceCheck))
        assert check.state == "unanswered" and "withdrawn" in check.error
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0


def test_the_admin_sets_and_asks_the_balance(modems, sessions, client, make_user):
    admin = make_user("root", admin=True)
    modems.add("sim1")
    log_in(client, admin)
    page = "/admin/sims/sim1/"
    post(client, "/admin/sims/sim1/balance-settings", {"code": "bad code"}, page=page)
    assert "a USSD code is digits" in client.get(page).get_data(as_text=True)
    post(
        client, "/admin/sims/sim1/balance-settings", {"code": "*100#", "every": "12", "low": "10"}, page=page
    )
    post(client, "/admin/sims/sim1/balance", page=page)

    wait_for(lambda: passes.balance_pass(sessions, modems.settings).answered, what="the USSD answer")
    html = client.get(page).get_data(as_text=True)
    assert "Reply for *100#" in html and "did not match the balance pattern" in html
