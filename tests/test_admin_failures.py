"""Failures that explain themselves, through Flask's test client on the real
database and real gammu-smsd daemons: Gammu's status and error code per
part on a message's page, what a rule's action led to on Inbound, the reply
box and the search there, and a SIM's state and daemon on the SIMs page."""

from __future__ import annotations

import re

from sqlalchemy import select

from bridge import rules, smsd, usage
from bridge.clock import utcnow
from bridge.jobs.dispatch import dispatch
from bridge.jobs.harvest import harvest, harvest_reports
from bridge.jobs.passes import webhook_pass
from bridge.models import Message, MessageStatus, Sim, SimUsage, WebhookDelivery
from tests.conftest import free_port, wait_for
from tests.helpers import dispatch_all, harvest_until
from tests.test_admin_inbound_rules import wait_inbound
from tests.test_admin_pages import log_in, post, queue
from tests.test_balancing import SendRejectedModem, _pending_outbox_id
from tests.test_incoming import DeliveryReportingNetwork


def row_of(page: str, marker: str) -> str:
    """The table row that carries ``marker`` (e.g. data-id="3")."""
    start = page.rindex("<tr", 0, page.index(marker))
    return page[start : page.index("</tr>", start)]


def failed_by_the_network(modems, sessions, settings, login: str = "alice") -> int:
    """A message whose only attempt the SIM refused: gammu-smsd moved it to
    sentitems as SendingError (done by hand on a stopped daemon's outbox,
    as its SQL would: Gammu's dummy phone never refuses)."""
    modems.add("flaky")
    modems.hang("flaky")
    message_id = queue(sessions, settings, login, text="refused by the network")
    with sessions.begin() as session:
        dispatch(session, settings)
    outbox_id = _pending_outbox_id(sessions, message_id)
    with sessions.begin() as session:
        SendRejectedModem.reject(session, outbox_id)
    with sessions.begin() as session:
        harvest(session)
    return message_id


def test_a_failed_message_shows_gammus_status_per_part_and_its_reason_in_the_archive(
    client, make_user, modems, sessions, settings
):
    alice = make_user("alice", admin=True)
    message_id = failed_by_the_network(modems, sessions, settings)
    log_in(client, alice)

    archive = client.get("/admin/messages/").get_data(as_text=True)
    reason = row_of(archive, f'data-id="{message_id}"')
    assert "SendingError on part 1" in reason and "the phone could not send it" in reason

    page = client.get(f"/admin/messages/{message_id}").get_data(as_text=True)
    part = row_of(page, 'data-status="SendingError"')
    assert "table-danger" in part
    assert "the phone could not send it (the network or the modem refused it)" in part
    assert "<code>-1</code>" in part  # no delivery report: no TP-Status
    timeline = page[page.index('id="timeline"') :]
    assert "attempt 1: error" in timeline and "SendingError on part 1" in timeline


def test_a_refusing_delivery_report_shows_its_code_and_what_it_means(
    client, make_user, modems, sessions, settings
):
    alice = make_user("alice", admin=True)
    modems.add("simA")
    message_id = queue(sessions, settings, "alice", text="to a number that does not exist")
    dispatch_all(sessions, settings)
    harvest_until(sessions, [message_id])
    with sessions.begin() as session:
        outbox_id = session.scalar(select(Message).where(Message.id == message_id)).attempts[0].outbox_id
        DeliveryReportingNetwork.report(session, outbox_id, "DeliveryFailed", 0x43)
    with sessions.begin() as session:
        harvest_reports(session)
    log_in(client, alice)
    page = client.get(f"/admin/messages/{message_id}").get_data(as_text=True)
    part = row_of(page, 'data-status="DeliveryFailed"')
    assert "<code>67</code>" in part and "number not obtainable" in part
    assert "the delivery report says it will not reach the phone" in part
    # The part's status is inside the part of the page that refreshes itself.
    detail = page[page.index('id="message-detail" data-refresh') :]
    assert 'id="parts"' in detail and 'id="timeline"' in detail


def test_inbound_shows_a_forward_to_a_closed_port_failing_with_its_error(
    client, make_user, modems, sessions, settings
):
    root = make_user("root", admin=True)
    modems.add("simA", owner="root")
    closed = f"http://127.0.0.1:{free_port()}/hook"
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="keyword",
            pattern="order",
            action="forward_url",
            argument=closed,
        )
    modems.receive("simA", "+79991112233", "ORDER 7")
    [inbound] = wait_inbound(sessions, settings)
    log_in(client, root)

    page = client.get("/admin/inbound/").get_data(as_text=True)
    assert 'data-state="waiting"' in row_of(page, f'data-id="{inbound.id}"')

    webhook_pass(sessions, settings)
    row = row_of(client.get("/admin/inbound/").get_data(as_text=True), f'data-id="{inbound.id}"')
    assert 'data-state="retrying"' in row and "attempt 1 failed" in row and "Connection refused" in row

    # Out of retry time (webhook_retry_hours 0): the next failure is final.
    impatient = settings.__class__(**{**settings.__dict__, "webhook_retry_hours": 0})
    with sessions.begin() as session:
        session.execute(WebhookDelivery.__table__.update().values(next_attempt_at=WebhookDelivery.created_at))
    webhook_pass(sessions, impatient)
    row = row_of(client.get("/admin/inbound/").get_data(as_text=True), f'data-id="{inbound.id}"')
    assert 'data-state="failed"' in row and "failed after 2 attempts" in row and "Connection refused" in row


def test_inbound_shows_a_forward_delivered_and_a_replys_status_with_a_link(
    client, make_user, modems, sessions, settings, receiver
):
    alice = make_user("alice")
    modems.add("simA", owner="alice")
    hook = receiver()
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login="alice",
            match_kind="keyword",
            pattern="hours",
            action="reply",
            argument="9-18",
        )
        rules.add_rule(
            session,
            settings,
            login="alice",
            match_kind="keyword",
            pattern="hours",
            action="forward_url",
            argument=hook.url,
        )
    modems.receive("simA", "+79991112233", "hours?")
    [inbound] = wait_inbound(sessions, settings)
    with sessions.begin() as session:
        reply = session.scalar(select(Message).where(Message.recipient == "+79991112233"))
    log_in(client, alice)
    row = row_of(client.get("/admin/inbound/").get_data(as_text=True), f'data-id="{inbound.id}"')
    assert (
        f'href="/admin/messages/{reply.id}"' in row
        and f'data-message="{reply.id}" data-status="queued"' in row
    )

    dispatch_all(sessions, settings)
    harvest_until(sessions, [reply.id])
    wait_for(lambda: webhook_pass(sessions, settings)["delivered"], what="the forward POST")
    row = row_of(client.get("/admin/inbound/").get_data(as_text=True), f'data-id="{inbound.id}"')
    assert f'data-message="{reply.id}" data-status="sent"' in row
    assert 'data-state="delivered"' in row and "delivered at" in row


def test_the_reply_box_texts_the_sender_back_as_the_signed_in_user(
    client, make_user, modems, sessions, settings
):
    alice = make_user("alice")
    modems.add("simA", owner="alice")
    modems.receive("simA", "+79991112233", "are you open?")
    [inbound] = wait_inbound(sessions, settings)
    log_in(client, alice)
    response = post(
        client, f"/admin/inbound/{inbound.id}/reply", {"text": "Yes, until 18:00"}, "/admin/inbound/"
    )
    assert response.status_code == 302
    with sessions.begin() as session:
        reply = session.scalar(select(Message).where(Message.recipient == "+79991112233"))
        assert (reply.text, reply.user_id, reply.status) == (
            "Yes, until 18:00",
            alice["id"],
            MessageStatus.QUEUED,
        )
    assert f"queued as message {reply.id}" in client.get("/admin/inbound/").get_data(as_text=True)
    dispatch_all(sessions, settings)
    harvest_until(sessions, [reply.id])
    with sessions.begin() as session:
        assert session.get(Message, reply.id).sim.name == "simA"


def test_an_admins_reply_leaves_through_the_sim_that_received_the_text(
    client, make_user, modems, sessions, settings
):
    boss = make_user("boss", admin=True)
    modems.add("simA", limit=1000)
    modems.add("simB", limit=1000)
    with sessions.begin() as session:  # simA has sent a lot: balancing alone would pick simB
        sim_a = session.scalar(select(Sim).where(Sim.name == "simA"))
        start = usage.period_start(sim_a.billing_day, utcnow().date())
        session.merge(SimUsage(sim_id=sim_a.id, period_start=start, parts=900))
    modems.receive("simA", "+79991112233", "are you open?")
    [inbound] = wait_inbound(sessions, settings)
    log_in(client, boss)
    response = post(client, f"/admin/inbound/{inbound.id}/reply", {"text": "Yes"}, "/admin/inbound/")
    assert response.status_code == 302
    with sessions.begin() as session:
        reply = session.scalar(select(Message).where(Message.recipient == "+79991112233"))
    assert "from SIM simA, which received the text" in client.get("/admin/inbound/").get_data(as_text=True)
    dispatch_all(sessions, settings)
    harvest_until(sessions, [reply.id])
    with sessions.begin() as session:
        assert session.get(Message, reply.id).sim.name == "simA"


def test_a_reply_with_no_text_is_refused_next_to_its_box_and_keeps_nothing(
    client, make_user, modems, sessions, settings
):
    alice = make_user("alice")
    modems.add("simA", owner="alice")
    modems.receive("simA", "+79991112233", "hello?")
    [inbound] = wait_inbound(sessions, settings)
    log_in(client, alice)
    response = post(client, f"/admin/inbound/{inbound.id}/reply", {"text": ""}, "/admin/inbound/")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    form = page[page.index(f'action="/admin/inbound/{inbound.id}/reply"') :]
    assert "reply-error" in form[: form.index("</form>")]
    with sessions.begin() as session:
        assert session.scalar(select(Message)) is None


def test_a_user_cannot_reply_to_a_text_attributed_to_someone_else(
    client, make_user, modems, sessions, settings
):
    make_user("alice")
    bob = make_user("bob")
    modems.add("simA", owner="alice")
    modems.receive("simA", "+79991112233", "for alice")
    [inbound] = wait_inbound(sessions, settings)
    log_in(client, bob)
    response = post(client, f"/admin/inbound/{inbound.id}/reply", {"text": "hijack"}, "/admin/inbound/")
    assert response.status_code == 404
    with sessions.begin() as session:
        assert session.scalar(select(Message)) is None


def test_inbound_search_finds_by_sender_or_text_and_refuses_a_huge_query(
    client, make_user, modems, sessions, settings
):
    root = make_user("root", admin=True)
    modems.add("simA")
    modems.receive("simA", "+79991112233", "pizza please")
    modems.receive("simA", "+79035550000", "sushi 100%")
    wait_inbound(sessions, settings, count=2)
    log_in(client, root)

    def senders(query: str) -> set[str]:
        page = client.get("/admin/inbound/", query_string={"q": query}).get_data(as_text=True)
        return set(re.findall(r'<td class="text-nowrap">(\+\d+)</td>', page))

    assert senders("pizza") == {"+79991112233"}
    assert senders("7903555") == {"+79035550000"}
    assert senders("100%") == {"+79035550000"}  # % is a character, not a wildcard
    assert senders("%") == {"+79035550000"}
    assert senders("") == {"+79991112233", "+79035550000"}
    refused = client.get("/admin/inbound/", query_string={"q": "x" * 101})
    assert refused.status_code == 400 and "q: a search is at most 100 characters" in refused.get_data(
        as_text=True
    )


def test_sims_page_tells_never_started_from_dead_and_starts_and_stops_a_daemon(
    client, make_user, modems, sessions, settings
):
    root = make_user("root", admin=True)
    modems.add("simB", start=False)
    log_in(client, root)
    row = row_of(client.get("/admin/sims/").get_data(as_text=True), 'data-sim="simB"')
    assert ">never started<" in row and "has never run" in row and "stopped" in row and "daemon-start" in row
    page = client.get("/admin/sims/simB/").get_data(as_text=True)
    assert ">never started<" in page and ">SIM simB</h4>" in page  # the page's title is a heading

    response = post(client, "/admin/sims/simB/daemon", {"action": "start", "back": "list"}, "/admin/sims/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/sims/")
    assert smsd.running_pid(settings, "simB") is not None
    wait_for(lambda: "simB" in modems.health().healthy, what="simB's heartbeat")
    row = row_of(client.get("/admin/sims/").get_data(as_text=True), 'data-sim="simB"')
    assert ">healthy<" in row and "running" in row and "daemon-stop" in row and "daemon-restart" in row

    post(client, "/admin/sims/simB/daemon", {"action": "stop", "back": "list"}, "/admin/sims/")
    assert smsd.running_pid(settings, "simB") is None


def test_a_dead_sim_says_since_when_it_has_no_heartbeat(client, make_user, modems, sessions, settings):
    root = make_user("root", admin=True)
    modems.add("simA")
    modems.kill("simA")
    modems.heartbeat_runs_out("simA")  # the daemon wrote it a few seconds ahead
    wait_for(lambda: "simA" not in modems.health().healthy, what="simA to be seen dead")
    log_in(client, root)
    row = row_of(client.get("/admin/sims/").get_data(as_text=True), 'data-sim="simA"')
    assert ">dead<" in row and "no heartbeat from its gammu-smsd since" in row


def test_a_rule_that_failed_shows_its_error_and_no_follow_up(client, make_user, modems, sessions, settings):
    root = make_user("root", admin=True)
    modems.add("simA")  # no owner, and nobody texted the sender: nobody to reply as
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="keyword",
            pattern="hi",
            action="reply",
            argument="hello",
        )
    modems.receive("simA", "+79991112233", "hi there")
    [inbound] = wait_inbound(sessions, settings)
    log_in(client, root)
    row = row_of(client.get("/admin/inbound/").get_data(as_text=True), f'data-id="{inbound.id}"')
    assert 'data-outcome="error"' in row and "no user to send as" in row
    assert "follow-up" not in row
