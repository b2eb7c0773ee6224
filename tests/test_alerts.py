"""Alerts: each kind whose cause exists is raised when the trouble begins
and resolved when it ends, through all three channels — a real SMTP server
(aiosmtpd) in this process, a real webhook receiver on loopback, and a text
that a real gammu-smsd daemon sends through a SIM other than the one in
trouble."""

from __future__ import annotations

import dataclasses
import email
import json
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

import cli
from bridge import alert_checks, alerts, heartbeat, sims, usage, webhooks
from bridge.clock import utcnow
from bridge.jobs.deliver import deliver_due
from bridge.jobs.mailer import send_due
from bridge.jobs.watchdog import clear_stall
from bridge.models import Alert, Message, SentItem, SimUsage, WebhookDelivery
from bridge.server import WorkerWatch
from bridge.users import get_user
from tests.conftest import free_port, wait_for
from tests.helpers import dispatch_all, harvest_until
from tests.test_sending import queue

OWNER_PHONE = "+79990009999"


class Mailbox:
    """What a real SMTP server (aiosmtpd, on loopback) received."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def channels(sessions, settings, make_user, receiver, mailbox):
    """root (an admin) is told by e-mail, on root's webhook, and by a text."""
    root = make_user("root", admin=True)
    hook = receiver()
    with sessions.begin() as session:
        secret = webhooks.set_webhook(session, settings, "root", hook.url)
        alerts.add_channel(
            session,
            settings,
            "email",
            "owner@example.org",
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
            smtp_security="none",
            mail_from="gateway@example.org",
        )
        alerts.add_channel(session, settings, "webhook", "root")
        alerts.add_channel(session, settings, "sms", OWNER_PHONE)
    return {"mailbox": mailbox, "hook": hook, "secret": secret, "root": root}


def run_alert_pass(sessions, settings, now=None, kinds=None) -> alerts.Queued:
    with sessions.begin() as session:
        return alerts.evaluate(session, settings, kinds or alert_checks.kinds("worker"), now=now)


def send_notices(sessions, settings) -> None:
    """What the worker's passes do with queued notices: texts, webhooks, e-mails."""
    dispatch_all(sessions, settings)
    deliver_due(sessions, settings)
    send_due(sessions, settings)


def texts_to_owner(sessions) -> list[tuple[str, str]]:
    """(SIM, text) of every text gammu-smsd sent to the owner's phone."""
    with sessions.begin() as session:
        rows = session.execute(
            select(SentItem.sender_id, SentItem.text_decoded)
            .where(SentItem.destination_number == OWNER_PHONE)
            .order_by(SentItem.id)
        ).all()
    return [tuple(r) for r in rows]


def told(channels, sessions, kind: str, word: str, *, subject: str = "", timeout: float = 30.0) -> str:
    """Every channel said ``word`` (CRITICAL, WARNING, resolved) about ``kind``;
    returns the SIM the text went out through."""
    mailbox, hook, secret = channels["mailbox"], channels["hook"], channels["secret"]

    def mailed():
        return [s for s in mailbox.subjects() if kind in s and word in s and subject in s]

    wait_for(mailed, timeout=timeout, what=f"an e-mail '{word} {kind}'")

    def posted():
        found = []
        for r in hook.requests:
            body = json.loads(r["body"])
            if r["headers"]["X-Smsbridge-Event"] == f"alert:{kind}" and word in body["data"]["text"]:
                assert webhooks.verify(secret, r["body"], r["headers"]["X-Smsbridge-Signature"])
                found.append(body)
        return found

    wait_for(posted, timeout=timeout, what=f"a webhook alert:{kind} '{word}'")

    def texted():
        return [sim for sim, text in texts_to_owner(sessions) if kind in text and word in text]

    return wait_for(texted, timeout=timeout, what=f"a text '{word} {kind}' to the owner")[-1]


def deliver_until_told(channels, sessions, settings, kind, word, **kw) -> str:
    send_notices(sessions, settings)
    return told(channels, sessions, kind, word, **kw)


def stored(sessions, kind: str) -> list[dict]:
    with sessions.begin() as session:
        return [a for a in alerts.list_alerts(session) if a["kind"] == kind]


# ------------------------------------------------------------------ each kind


def test_sim_down_is_raised_and_resolved_through_every_channel(modems, sessions, settings, channels):
    modems.add("simA")
    modems.add("simB")
    modems.kill("simA")
    wait_for(lambda: "simA" in modems.health().unhealthy, what="simA's heartbeat to stop")

    assert run_alert_pass(sessions, settings).changes == ["raised sim:down simA"]
    assert deliver_until_told(channels, sessions, settings, "sim:down", "CRITICAL") == "simB"
    # Raised once: the next pass says nothing new.
    assert run_alert_pass(sessions, settings).changes == []
    assert [(a["subject"], a["state"]) for a in stored(sessions, "sim:down")] == [("simA", "open")]

    modems.start("simA")
    assert run_alert_pass(sessions, settings).changes == ["resolved sim:down simA"]
    deliver_until_told(channels, sessions, settings, "sim:down", "resolved")
    [alert] = stored(sessions, "sim:down")
    assert alert["state"] == "resolved" and alert["resolved_at"] >= alert["opened_at"]


def test_sim_stalled_is_raised_and_resolved_through_every_channel(modems, sessions, settings, channels):
    modems.add("simA")
    modems.add("simB")
    with sessions.begin() as session:  # what the watchdog records when it judges a SIM stalled
        sim = sims.get_sim(session, "simA")
        sim.stalled_since, sim.stall_reason = utcnow(), "its last 3 sends all failed (SendingError)"

    assert run_alert_pass(sessions, settings).changes == ["raised sim:stalled simA"]
    assert deliver_until_told(channels, sessions, settings, "sim:stalled", "CRITICAL") == "simB"

    with sessions.begin() as session:
        clear_stall(sims.get_sim(session, "simA"), utcnow())
    assert run_alert_pass(sessions, settings).changes == ["resolved sim:stalled simA"]
    deliver_until_told(channels, sessions, settings, "sim:stalled", "resolved")


def test_sim_limit_warns_at_80_percent_escalates_at_100_and_resolves(modems, sessions, settings, channels):
    modems.add("simA", limit=10)
    modems.add("simB")

    def use(parts: int) -> None:
        with sessions.begin() as session:
            sim = sims.get_sim(session, "simA")
            [key] = usage.month_keys([sim], utcnow().date())
            usage.lock_month(session, [key])
            session.execute(update(SimUsage).where(SimUsage.sim_id == sim.id).values(parts=parts))

    use(8)
    assert run_alert_pass(sessions, settings).changes == ["raised sim:limit simA"]
    # Not through the SIM the alert is about, though it still has room.
    assert deliver_until_told(channels, sessions, settings, "sim:limit", "WARNING") == "simB"
    use(10)
    assert run_alert_pass(sessions, settings).changes == ["reminded of sim:limit simA"]
    deliver_until_told(channels, sessions, settings, "sim:limit", "CRITICAL")
    use(0)
    assert run_alert_pass(sessions, settings).changes == ["resolved sim:limit simA"]
    deliver_until_told(channels, sessions, settings, "sim:limit", "resolved")


def test_queue_stuck_counts_from_acceptance_and_resolves_once_sent(
    modems, make_user, sessions, settings, channels
):
    make_user("alice")
    modems.add("simA")
    [late] = queue(sessions, settings, "alice", "+79991234567", "accepted long ago")
    with sessions.begin() as session:
        # Waiting 11 minutes, however often dispatch moved its due_at on.
        session.execute(
            update(Message)
            .where(Message.id == late)
            .values(created_at=utcnow() - timedelta(minutes=11), due_at=utcnow() + timedelta(minutes=1))
        )

    assert run_alert_pass(sessions, settings).changes == ["raised queue:stuck"]
    with sessions.begin() as session:
        session.execute(update(Message).where(Message.id == late).values(due_at=utcnow()))
    deliver_until_told(channels, sessions, settings, "queue:stuck", "CRITICAL")
    harvest_until(sessions, [late])

    assert run_alert_pass(sessions, settings).changes == ["resolved queue:stuck"]
    deliver_until_told(channels, sessions, settings, "queue:stuck", "resolved")


def test_webhook_failing_for_an_hour_is_raised_and_resolved(
    modems, make_user, sessions, settings, channels, receiver
):
    make_user("bob")
    modems.add("simA")
    broken = receiver(statuses=[500] * 3)
    with sessions.begin() as session:
        webhooks.set_webhook(session, settings, "bob", broken.url)
        delivery = webhooks.enqueue_for_user(
            session,
            get_user(session, "bob").id,
            "sms:received",
            {"text": "hello"},
            now=utcnow() - timedelta(hours=2),
        )
    deliver_due(sessions, settings, only=[delivery])
    assert broken.requests and broken.requests[0]["status"] == 500

    assert run_alert_pass(sessions, settings).changes == ["raised webhook:failing bob"]
    deliver_until_told(channels, sessions, settings, "webhook:failing", "WARNING", subject="bob")

    with sessions.begin() as session:  # bob's server is back: the retry gets through
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery).values(next_attempt_at=utcnow())
        )
    broken.statuses = []
    deliver_due(sessions, settings, only=[delivery])
    assert run_alert_pass(sessions, settings).changes == ["resolved webhook:failing bob"]
    deliver_until_told(channels, sessions, settings, "webhook:failing", "resolved")


def test_worker_down_is_raised_by_the_web_app_which_sends_the_notices_itself(
    modems, sessions, settings, channels
):
    modems.add("simA")
    quick = dataclasses.replace(settings, worker_down_after=60)
    with sessions.begin() as session:
        heartbeat.record(session, "health", utcnow() - timedelta(minutes=5))
    watch = WorkerWatch(sessions, quick)

    # No worker pass runs here: the watch alone must get the word out.
    assert watch.check_once().changes == ["raised worker:down"]
    told(channels, sessions, "worker:down", "CRITICAL")
    assert watch.check_once().changes == []

    with sessions.begin() as session:
        heartbeat.record(session, "health")
    assert watch.check_once().changes == ["resolved worker:down"]
    told(channels, sessions, "worker:down", "resolved")


# ------------------------------------------------------------------ reminders, channels, CLI


def test_an_open_alert_is_repeated_at_most_every_alert_repeat(modems, sessions, settings, channels):
    modems.add("simA")
    modems.add("simB")
    modems.kill("simA")
    wait_for(lambda: "simA" in modems.health().unhealthy, what="simA's heartbeat to stop")
    now, only = utcnow(), ["sim:down"]
    assert run_alert_pass(sessions, settings, now=now, kinds=only).changes == ["raised sim:down simA"]
    later = now + timedelta(seconds=settings.alert_repeat - 1)
    assert run_alert_pass(sessions, settings, now=later, kinds=only).changes == []
    much_later = now + timedelta(seconds=settings.alert_repeat + 1)
    reminder = run_alert_pass(sessions, settings, now=much_later, kinds=only)
    assert reminder.changes == ["reminded of sim:down simA"]
    assert (len(reminder.email_ids), len(reminder.webhook_ids), len(reminder.message_ids)) == (1, 1, 1)
    assert run_alert_pass(sessions, settings, now=much_later, kinds=only).changes == []
    with sessions.begin() as session:
        assert session.scalar(select(Alert.reminders)) == 1


def test_alert_test_sends_through_every_channel_and_alerts_lists_them(
    runner, modems, sessions, settings, channels
):
    modems.add("simA")
    result = runner.invoke(cli.main, ["alert", "test"])
    assert result.exit_code == 0, result.output
    assert "1 e-mail(s), 1 webhook(s), 1 text(s)" in result.output
    told(channels, sessions, "test", "test alert")

    listed = runner.invoke(cli.main, ["alert", "list"])
    assert [line.split("\t")[1] for line in listed.output.splitlines()] == ["email", "webhook", "sms"]
    modems.kill("simA")
    wait_for(lambda: "simA" in modems.health().unhealthy, what="simA's heartbeat to stop")
    assert runner.invoke(cli.main, ["job", "alerts"]).exit_code == 0
    shown = runner.invoke(cli.main, ["alerts", "--open"]).output
    assert "sim:down\tsimA" in shown and "OPEN" in shown


def test_channels_refuse_what_cannot_work(sessions, settings, make_user):
    make_user("alice")
    with sessions.begin() as session:
        with pytest.raises(Exception, match="no webhook URL"):
            alerts.add_channel(session, settings, "webhook", "alice")
        with pytest.raises(Exception, match="SMTP server"):
            alerts.add_channel(session, settings, "email", "a@example.org")
        with pytest.raises(Exception, match="not an e-mail address"):
            alerts.add_channel(session, settings, "email", "nobody", smtp_host="localhost")


def test_two_processes_raising_the_same_alert_store_it_once(modems, sessions, settings, make_user):
    make_user("root", admin=True)
    modems.add("simA", start=False)
    modems.health()
    first, second = sessions(), sessions()
    try:
        first.begin()
        second.begin()
        a = alerts.evaluate(first, settings, ["sim:down"])
        first.commit()
        b = alerts.evaluate(second, settings, ["sim:down"])
        second.commit()
    finally:
        first.close()
        second.close()
    assert a.changes == ["raised sim:down simA"] and b.changes == []
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1


def test_sim_quarantined_is_raised_and_resolved_through_every_channel(modems, sessions, settings, channels):
    modems.add("simA")
    modems.add("simB")
    with sessions.begin() as session:  # what the identity pass records when the card changed
        sims.quarantine(
            session, sims.get_sim(session, "simA"), "another card (IMSI 250019999999999) in its modem"
        )

    assert run_alert_pass(sessions, settings).changes == ["raised sim:quarantined simA"]
    assert deliver_until_told(channels, sessions, settings, "sim:quarantined", "CRITICAL") == "simB"

    with sessions.begin() as session:
        sim = sims.get_sim(session, "simA")
        sim.quarantined_at = sim.quarantine_reason = None  # what the old card coming back does
    assert run_alert_pass(sessions, settings).changes == ["resolved sim:quarantined simA"]
    deliver_until_told(channels, sessions, settings, "sim:quarantined", "resolved")


def test_sim_balance_low_is_raised_and_resolved_through_every_channel(modems, sessions, settings, channels):
    from bridge.models import BalanceCheck

    modems.add("simA")
    modems.add("simB")
    with sessions.begin() as session:  # a balance answer read below the SIM's mark
        sim = sims.get_sim(session, "simA")
        sims.set_balance(session, "simA", low="50")
        session.add(
            BalanceCheck(
                sim_id=sim.id,
                code="*100#",
                state="answered",
                amount=12,
                answer="Баланс: 12,00 р.",
                requested_at=utcnow(),
                answered_at=utcnow(),
            )
        )

    assert run_alert_pass(sessions, settings).changes == ["raised sim:balance_low simA"]
    deliver_until_told(channels, sessions, settings, "sim:balance_low", "WARNING")

    with sessions.begin() as session:
        sims.set_balance(session, "simA", low="10")
    assert run_alert_pass(sessions, settings).changes == ["resolved sim:balance_low simA"]
    deliver_until_told(channels, sessions, settings, "sim:balance_low", "resolved")
