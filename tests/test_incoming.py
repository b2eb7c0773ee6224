"""Incoming texts through real gammu-smsd daemons: storage, joining, rules,
opt-out, webhooks, delivery reports."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from bridge import rules, webhooks
from bridge.errors import AcceptError
from bridge.jobs import apply_rules, deliver
from bridge.jobs.harvest import harvest_reports
from bridge.jobs.inbound import receive
from bridge.jobs.passes import webhook_pass
from bridge.jobs.scheduler import Worker
from bridge.models import (
    InboundMessage,
    Message,
    MessageAttempt,
    MessageStatus,
    Outbox,
    RuleResult,
    SentItem,
)
from tests.conftest import wait_for
from tests.helpers import dispatch_all, harvest_until, sent_parts
from tests.test_sending import queue


def inbound_pass(sessions, settings):
    with sessions.begin() as session:
        return receive(session, settings)


def wait_inbound(sessions, settings, count=1):
    def arrived():
        inbound_pass(sessions, settings)
        with sessions.begin() as session:
            rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        return rows if len(rows) >= count else None

    return wait_for(arrived, what=f"{count} incoming text(s)")


def test_incoming_text_is_stored_once_and_fires_a_signed_webhook(
    modems, make_user, sessions, settings, receiver
):
    make_user("alice")
    modems.add("simA", owner="alice")
    hook = receiver()
    with sessions.begin() as session:
        secret = webhooks.set_webhook(session, settings, "alice", hook.url)

    modems.receive("simA", "+79991112233", "Is the shop open today?")
    [inbound] = wait_inbound(sessions, settings)
    assert (inbound.sender, inbound.sim_name, inbound.text) == (
        "+79991112233",
        "simA",
        "Is the shop open today?",
    )
    inbound_pass(sessions, settings)  # again: nothing new
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1

    wait_for(lambda: webhook_pass(sessions, settings)["delivered"], what="the webhook")
    [post] = hook.requests
    assert webhooks.verify(secret, post["body"], post["headers"]["X-Smsbridge-Signature"])
    assert not webhooks.verify("another secret", post["body"], post["headers"]["X-Smsbridge-Signature"])
    payload = json.loads(post["body"])
    assert payload["event"] == "sms:received" and payload["id"] == post["headers"]["X-Smsbridge-Delivery"]
    assert payload["data"]["text"] == "Is the shop open today?"


def test_three_part_text_arriving_out_of_order_is_joined(modems, make_user, sessions, settings):
    make_user()
    modems.add("simA")
    text = "Доброе утро! " * 12 + "Конец."  # 3 UCS-2 parts
    assert modems.receive("simA", "+79991112233", text, reverse=True) == 3
    [inbound] = wait_inbound(sessions, settings)
    assert inbound.text == text and inbound.parts == 3 and inbound.complete


def test_stop_makes_later_sends_end_opted_out_and_start_lifts_it(modems, make_user, sessions, settings):
    make_user()
    modems.add("simA")
    modems.receive("simA", "+79991112233", "Stop!")
    wait_inbound(sessions, settings)
    [blocked] = queue(sessions, settings, "alice", "+79991112233", "Sale!")
    dispatch_all(sessions, settings)
    with sessions.begin() as session:
        assert session.get(Message, blocked).status == MessageStatus.OPTED_OUT
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0

    modems.receive("simA", "+79991112233", "start")
    wait_inbound(sessions, settings, count=2)
    [allowed] = queue(sessions, settings, "alice", "+79991112233", "Welcome back")
    dispatch_all(sessions, settings)
    harvest_until(sessions, [allowed])
    with sessions.begin() as session:
        labels = session.scalars(select(RuleResult.detail).order_by(RuleResult.id)).all()
    assert labels == ["added to the opt-out list", "removed from the opt-out list"]


def test_keyword_auto_reply_goes_out_through_a_sim(modems, make_user, sessions, settings):
    make_user("alice")
    modems.add("simA", owner="alice")
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="keyword",
            pattern="HOURS",
            action="reply",
            argument="Open 9-18, Mon-Sat",
        )
    modems.receive("simA", "+79991112233", "hours?")
    wait_inbound(sessions, settings)
    with sessions.begin() as session:
        reply = session.scalar(select(Message).where(Message.recipient == "+79991112233"))
    dispatch_all(sessions, settings)
    harvest_until(sessions, [reply.id])
    [part] = sent_parts(sessions, reply.id)
    assert part.text_decoded == "Open 9-18, Mon-Sat" and part.sender_id == "simA"


def test_a_failing_rule_does_not_stop_the_next_one(modems, make_user, sessions, settings):
    make_user("alice")
    modems.add("simA", start=False)  # no owner: nobody to send a reply as
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="regex",
            pattern=r"\border\b",
            action="reply",
            argument="Thanks!",
        )
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="regex",
            pattern="order",
            action="opt_out",
            argument=None,
        )
    modems.start("simA")
    modems.receive("simA", "+79991112233", "Where is my order")
    [inbound] = wait_inbound(sessions, settings)
    with sessions.begin() as session:
        results = session.execute(
            select(RuleResult.outcome, RuleResult.detail)
            .where(RuleResult.inbound_id == inbound.id)
            .order_by(RuleResult.id)
        ).all()
    assert [r.outcome for r in results] == ["error", "done"]
    assert "no user to send as" in results[0].detail


def test_reply_is_attributed_to_the_user_who_texted_that_number(
    modems, make_user, sessions, settings, client
):
    alice, bob = make_user("alice"), make_user("bob")
    modems.add("simA")
    [sent] = queue(sessions, settings, "bob", "+79991112233", "Your order is ready")
    dispatch_all(sessions, settings)
    harvest_until(sessions, [sent])
    modems.receive("simA", "+79991112233", "Thanks, coming")
    [inbound] = wait_inbound(sessions, settings)
    assert inbound.user_id == bob["id"]
    mine = client.get("/api/v1/inbound", headers={"Authorization": f"Bearer {bob['key']}"}).get_json()
    theirs = client.get("/api/v1/inbound", headers={"Authorization": f"Bearer {alice['key']}"}).get_json()
    assert [i["text"] for i in mine["items"]] == ["Thanks, coming"] and mine["next_since"] == inbound.id
    assert theirs["items"] == []
    later = client.get(
        f"/api/v1/inbound?since={inbound.id}", headers={"Authorization": f"Bearer {bob['key']}"}
    ).get_json()
    assert later["items"] == []


def test_webhook_500_twice_then_200_arrives_once_more_across_a_worker_restart(
    modems, make_user, sessions, settings, receiver
):
    make_user("alice")
    modems.add("simA", owner="alice")
    hook = receiver(statuses=[500, 500])
    with sessions.begin() as session:
        webhooks.set_webhook(session, settings, "alice", hook.url)
    modems.receive("simA", "+79991112233", "hello")
    wait_inbound(sessions, settings)

    first = Worker(settings)
    first.start()
    try:
        wait_for(lambda: len(hook.requests) >= 1, what="the first (failing) delivery")
    finally:
        first.stop()
    second = Worker(settings)
    second.start()
    try:
        wait_for(lambda: any(r["status"] == 200 for r in hook.requests), what="a successful retry")
    finally:
        second.stop()
    assert [r["status"] for r in hook.requests] == [500, 500, 200]
    assert len({r["headers"]["X-Smsbridge-Delivery"] for r in hook.requests}) == 1


class DeliveryReportingNetwork:
    """The network's delivery report, as gammu-smsd records it in sentitems
    (its save_inbox_sms_update_delivered query). Gammu's dummy phone cannot
    produce a report whose status text gammu-smsd accepts, so this one
    write is done by hand, exactly as the daemon writes it."""

    @staticmethod
    def report(session, outbox_id: int, status: str = "DeliveryOK", code: int = 0) -> None:
        session.execute(
            update(SentItem)
            .where(SentItem.id == outbox_id)
            .values(status=status, status_error=code, delivery_datetime=func.now())
        )


def test_delivery_report_becomes_delivered_in_the_api_and_a_webhook(
    modems, make_user, sessions, settings, client, receiver
):
    user = make_user("alice")
    modems.add("simA")
    hook = receiver()
    auth = {"Authorization": f"Bearer {user['key']}"}
    body = {
        "to": "+79991112233",
        "text": "Parcel 7 is on its way",
        "delivery_report": True,
        "callback_url": hook.url,
    }
    refused = client.post("/api/v1/messages", headers=auth, json=body)
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "callback_url"
    secret = client.put("/api/v1/webhook", headers=auth, json={"url": ""}).get_json()["secret"]
    [message] = client.post("/api/v1/messages", headers=auth, json=body).get_json()
    dispatch_all(sessions, settings)
    with sessions.begin() as session:
        assert session.scalar(select(Outbox.delivery_report)) == "yes"
    harvest_until(sessions, [message["id"]])
    with sessions.begin() as session:
        outbox_id = session.scalar(
            select(MessageAttempt.outbox_id).where(MessageAttempt.message_id == message["id"])
        )
        DeliveryReportingNetwork.report(session, outbox_id)
    with sessions.begin() as session:
        assert harvest_reports(session) == 1
    view = client.get(
        f"/api/v1/messages/{message['id']}", headers={"Authorization": f"Bearer {user['key']}"}
    ).get_json()
    assert view["status"] == "delivered" and view["finished_at"]
    wait_for(
        lambda: (
            webhook_pass(sessions, settings)["delivered"]
            and {json.loads(r["body"])["event"] for r in hook.requests} >= {"sms:sent", "sms:delivered"}
        ),
        what="sms:sent and sms:delivered posts",
    )
    assert all(
        webhooks.verify(secret, r["body"], r["headers"]["X-Smsbridge-Signature"]) for r in hook.requests
    )


def test_no_webhook_url_means_no_deliveries(modems, make_user, sessions, settings, client):
    user = make_user("alice")
    modems.add("simA", owner="alice")
    client.put("/api/v1/webhook", headers={"Authorization": f"Bearer {user['key']}"}, json={"url": ""})
    modems.receive("simA", "+79991112233", "hello")
    wait_inbound(sessions, settings)
    with sessions.begin() as session:
        from bridge.models import WebhookDelivery

        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_opt_out_api_names_the_phone_field_and_a_user_keeps_their_own_list(client, make_user):
    user, admin = make_user("alice"), make_user("root", admin=True)
    auth = {"Authorization": f"Bearer {user['key']}"}
    as_admin = {"Authorization": f"Bearer {admin['key']}"}
    bad = client.post("/api/v1/optouts", headers=auth, json={"phone": "12"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "phone"
    assert client.post("/api/v1/optouts", headers=auth, json={"phone": "+79991112233"}).status_code == 201
    assert [o["phone"] for o in client.get("/api/v1/optouts", headers=auth).get_json()] == ["+79991112233"]
    # The admin's calls are about the global list, which alice's add did not touch.
    assert client.get("/api/v1/optouts", headers=as_admin).get_json() == []
    removed = client.delete("/api/v1/optouts/+79991112233", json=["not", "an", "object"], headers=as_admin)
    assert removed.status_code == 404
    assert client.delete("/api/v1/optouts/+79991112233", headers=auth).status_code == 200
    assert client.get("/api/v1/optouts", headers=auth).get_json() == []


def test_webhook_urls_on_private_addresses_are_refused_unless_allowed():
    with pytest.raises(AcceptError, match="private"):
        webhooks.check_url("http://127.0.0.1:9/hook", allow_private=False)
    with pytest.raises(AcceptError, match="private"):
        webhooks.check_url("http://10.1.2.3/hook", allow_private=False)
    with pytest.raises(AcceptError, match="http"):
        webhooks.check_url("file:///etc/passwd", allow_private=True)
    with pytest.raises(AcceptError, match="2048"):
        webhooks.check_url("http://example.com/" + "a" * 2048, allow_private=True)
    assert webhooks.check_url("http://127.0.0.1:9/hook", allow_private=True)


def test_forward_rules_post_the_text_and_send_it_on(modems, make_user, sessions, settings, receiver):
    make_user("alice")
    modems.add("simA", owner="alice")
    hook = receiver()
    with sessions.begin() as session:
        to_url = rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="keyword",
            pattern="order",
            action="forward_url",
            argument=hook.url,
        )
        rules.add_rule(
            session,
            settings,
            login="alice",
            match_kind="keyword",
            pattern="order",
            action="forward_to",
            argument="8 916 123-45-67",
        )
        secret = to_url.secret
    modems.receive("simA", "+79991112233", "ORDER 42 please")
    wait_inbound(sessions, settings)
    with sessions.begin() as session:
        forwarded = session.scalar(select(Message).where(Message.recipient == "+79161234567"))
    assert forwarded.text == "From +79991112233: ORDER 42 please"
    wait_for(lambda: webhook_pass(sessions, settings)["delivered"], what="the forward POST")
    [post] = hook.requests
    assert webhooks.verify(secret, post["body"], post["headers"]["X-Smsbridge-Signature"])
    assert json.loads(post["body"])["data"]["text"] == "ORDER 42 please"


def test_stop_is_confirmed_when_a_confirmation_is_configured(modems, make_user, sessions, settings):
    make_user("alice")
    modems.add("simA", owner="alice")
    confirming = settings.__class__(
        **{**settings.__dict__, "opt_out_confirmation": "You are {action}. Text START to undo."}
    )
    modems.receive("simA", "+79991112233", "СТОП")
    wait_inbound(sessions, confirming)
    with sessions.begin() as session:
        reply = session.scalar(select(Message).where(Message.recipient == "+79991112233"))
    assert reply.text == "You are unsubscribed. Text START to undo."
    dispatch_all(sessions, settings)
    harvest_until(sessions, [reply.id])  # the one text an opted-out number still gets


class PartialInbox:
    """Parts of a long text as gammu-smsd stores them in ``inbox`` (its
    save_inbox_sms_insert), for the case the daemon itself cannot produce
    on demand: a part that never arrives."""

    @staticmethod
    def store(session, sim, sender, udh, text, received_at):
        from bridge.models import Inbox

        session.add(
            Inbox(
                receiving_datetime=received_at,
                sender_number=sender,
                coding="Default_No_Compression",
                udh=udh,
                sms_class=-1,
                text_decoded=text,
                recipient_id=sim,
                processed="false",
            )
        )


def test_incomplete_long_text_is_kept_as_it_is_after_the_wait(sessions, settings):
    from datetime import timedelta

    from bridge.clock import utcnow

    long_ago = utcnow() - timedelta(seconds=settings.inbound_part_wait + 5)
    with sessions.begin() as session:
        PartialInbox.store(session, "simA", "+79991112233", "050003AA0301", "first part, ", long_ago)
        PartialInbox.store(session, "simA", "+79991112233", "050003AA0303", "third part", long_ago)
        PartialInbox.store(session, "simA", "+79991112244", "050003BB0201", "fresh, ", utcnow())
    with sessions.begin() as session:
        assert receive(session, settings).messages == 1
    with sessions.begin() as session:
        [kept] = session.scalars(select(InboundMessage)).all()
    assert (kept.text, kept.parts, kept.complete) == ("first part, third part", 2, False)


def test_sim_default_asks_for_delivery_reports(runner, modems, make_user, sessions, settings):
    from tests.test_cli import invoke

    make_user("alice")
    modems.add("simA")
    assert invoke(runner, "sim", "set", "simA", "--delivery-reports", "on").exit_code == 0
    queue(sessions, settings, "alice", "+79991112233", "report me")
    queue(sessions, settings, "alice", "+79991112244", "do not", delivery_report=False)
    dispatch_all(sessions, settings)
    with sessions.begin() as session:
        rows = dict(
            session.execute(select(Outbox.destination_number, Outbox.delivery_report)).all()
            or session.execute(select(SentItem.destination_number, SentItem.status)).all()
        )
    assert rows.get("+79991112233") in ("yes", "SendingOK")
    assert rows.get("+79991112244") in ("no", "SendingOKNoReport")


def test_a_stop_with_a_huge_tail_is_honoured_and_blocks_nothing_else(sessions, settings):
    from bridge.clock import utcnow
    from bridge.models import OptOut

    with sessions.begin() as session:
        PartialInbox.store(session, "simA", "+79991112233", "", "STOP" + "\n." * 150, utcnow())
        PartialInbox.store(session, "simA", "+79991112244", "", "hello", utcnow())
    with sessions.begin() as session:
        assert receive(session, settings).messages == 2
    with sessions.begin() as session:
        assert session.get(OptOut, "+79991112233") is not None
        assert len(session.get(OptOut, "+79991112233").reason) <= 255


def test_a_rule_that_crashes_is_recorded_and_the_pass_goes_on(sessions, settings, monkeypatch):
    from bridge.clock import utcnow

    with sessions.begin() as session:
        rules.add_rule(
            session, settings, login=None, match_kind="regex", pattern=".", action="opt_out", argument=None
        )

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(apply_rules._ACTIONS, "opt_out", broken)
    with sessions.begin() as session:
        PartialInbox.store(session, "simA", "+79991112233", "", "anything", utcnow())
    with sessions.begin() as session:
        assert receive(session, settings).messages == 1
    with sessions.begin() as session:
        [result] = session.scalars(select(RuleResult)).all()
    assert result.outcome == "error" and "disk on fire" in result.detail


def test_a_message_that_expires_unsent_is_reported_as_failed(modems, make_user, sessions, settings, receiver):
    from datetime import timedelta

    from bridge.clock import utcnow
    from bridge.jobs.dispatch import dispatch
    from bridge.models import WebhookDelivery
    from tests.test_sending import queue as queue_message

    make_user("alice")
    modems.add("simA", start=False)
    hook = receiver()
    with sessions.begin() as session:
        webhooks.set_webhook(session, settings, "alice", hook.url)
    [message_id] = queue_message(sessions, settings, "alice", "+79991112233", "code 1", valid_for=30)
    with sessions.begin() as session:
        dispatch(session, settings, now=utcnow() + timedelta(seconds=31))
    with sessions.begin() as session:
        [delivery] = session.scalars(select(WebhookDelivery)).all()
    payload = json.loads(delivery.payload)
    assert (delivery.event, payload["data"]["message_id"], payload["data"]["status"]) == (
        "sms:failed",
        message_id,
        "expired",
    )


def test_a_reply_rule_answers_a_number_once_an_hour(make_user, modems, sessions, settings):
    from bridge.clock import utcnow

    make_user("alice")
    modems.add("simA", owner="alice", start=False)
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="regex",
            pattern=".",
            action="reply",
            argument="We got it",
        )
    for text in ("one", "two"):  # an auto-responder on the other end answering back
        with sessions.begin() as session:
            PartialInbox.store(session, "simA", "+79991112233", "", text, utcnow())
        with sessions.begin() as session:
            receive(session, settings)
    with sessions.begin() as session:
        replies = session.scalars(select(Message).where(Message.recipient == "+79991112233")).all()
        details = session.scalars(select(RuleResult.detail).order_by(RuleResult.id)).all()
    assert len(replies) == 1 and "within the hour" in details[1]


def test_a_delivery_connects_to_the_address_that_was_checked(receiver, settings, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and that address is
    the one connected to; the Host header still carries the name."""
    import socket as socket_module

    hook = receiver()
    port = int(hook.url.rsplit(":", 1)[1].split("/")[0])
    answers = iter(["127.0.0.1", "10.9.9.9"])  # a second lookup would say something else
    real = socket_module.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example":
            return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket_module, "getaddrinfo", rebinding)
    delivery = {
        "id": "d1",
        "url": f"http://hooks.example:{port}/hook?x=1",
        "secret": "s",
        "event": "sms:sent",
        "payload": "{}",
    }
    assert deliver._post(delivery, settings) is None
    [post] = hook.requests
    assert post["headers"]["Host"] == f"hooks.example:{port}"


def test_a_private_answer_is_refused_before_any_connection(settings, monkeypatch):
    import socket as socket_module

    monkeypatch.setattr(
        socket_module,
        "getaddrinfo",
        lambda *a, **k: [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", ("10.9.9.9", 80))],
    )
    strict = settings.__class__(**{**settings.__dict__, "webhook_allow_private": False})
    reason = deliver._post(
        {"id": "d", "url": "http://hooks.example/h", "secret": "s", "event": "sms:sent", "payload": "{}"},
        strict,
    )
    assert "private" in reason
