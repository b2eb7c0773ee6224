"""Failures that explain themselves, in a real browser (Debian's chromium,
driven by Playwright) against `smsbridge run`, whose worker dispatches to
real gammu-smsd daemons, harvests, receives and delivers webhooks.
Fixtures in tests/conftest.py, steps in tests/browser.py."""

from __future__ import annotations

from sqlalchemy import select

from bridge import rules
from bridge.models import Message, MessageStatus
from tests.browser import log_in, needs_chromium, screenshot
from tests.conftest import free_port, wait_for
from tests.test_admin_pages import queue
from tests.test_balancing import SendRejectedModem, _pending_outbox_id

pytestmark = needs_chromium


def test_a_sim_started_from_the_sims_page_turns_healthy(page, make_user, modems):
    user = make_user("root", admin=True)
    modems.add("simA")
    modems.add("simB", start=False)
    log_in(page, user)
    page.goto("/admin/sims/")
    row = page.locator('tr[data-sim="simB"]')
    assert row.locator(".sim-state").inner_text() == "never started"
    assert "has never run" in row.locator(".state-reason").inner_text()
    row.locator("button.daemon-start").click()
    page.wait_for_load_state()
    assert "SIM simB: daemon started." in page.inner_text("body")
    page.evaluate("window.notReloaded = true")
    # The state cell refreshes itself when the worker hears the heartbeat.
    page.wait_for_function(
        "document.querySelector('tr[data-sim=\"simB\"] .sim-state').textContent === 'healthy'",
        timeout=60_000,
    )
    assert page.evaluate("window.notReloaded") is True
    assert "running" in page.locator('tr[data-sim="simB"] .daemon-state').inner_text()
    screenshot(page, "sims")


def test_a_failed_message_shows_its_reason_in_the_archive_and_gammus_error_per_part(
    page, make_user, modems, sessions, settings
):
    user = make_user("root", admin=True)
    modems.add("flaky")
    modems.hang("flaky")  # the worker keeps it in service however slow this machine is today
    message_id = queue(sessions, settings, "root", text="refused by the network")
    outbox_id = wait_for(
        lambda: _pending_outbox_id(sessions, message_id), timeout=60, what="the text in flaky's outbox"
    )
    with sessions.begin() as session:
        SendRejectedModem.reject(session, outbox_id)  # what gammu-smsd writes when the network refuses

    def failed():
        with sessions.begin() as session:
            return (
                session.scalar(select(Message.status).where(Message.id == message_id)) == MessageStatus.FAILED
            )

    wait_for(failed, timeout=60, what="the worker to fail the message")
    log_in(page, user)
    page.goto("/admin/messages/")
    reason = page.inner_text(f'tr[data-id="{message_id}"] .reason')
    assert "SendingError on part 1" in reason and "the phone could not send it" in reason, reason
    page.goto(f"/admin/messages/{message_id}")
    part = page.locator('#parts tr[data-status="SendingError"]')
    assert "the phone could not send it" in part.locator(".part-status").inner_text()
    assert part.locator(".part-error code").inner_text() == "-1"
    assert "attempt 1: error" in page.inner_text("#timeline")
    screenshot(page, "message")


def test_inbound_shows_what_the_rules_led_to_and_the_reply_box_answers(
    page, make_user, modems, sessions, settings
):
    user = make_user("root", admin=True)
    modems.add("simA", owner="root")
    closed = f"http://127.0.0.1:{free_port()}/hook"
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="keyword",
            pattern="hours",
            action="reply",
            argument="Open 9-18",
        )
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="keyword",
            pattern="hours",
            action="forward_url",
            argument=closed,
        )
    modems.receive("simA", "+79991112233", "hours today?")
    log_in(page, user)

    def arrived():
        page.goto("/admin/inbound/")
        return page.locator("#inbound tr[data-id] .rule-result").count() == 2

    wait_for(arrived, timeout=60, interval=0.5, what="the text and its two rule results")
    page.evaluate("window.notReloaded = true")
    page.wait_for_function(
        "document.querySelector('.follow-up[data-message]') &&"
        " document.querySelector('.follow-up[data-message]').dataset.status === 'sent'"
        " && document.querySelector('.follow-up.delivery').dataset.state === 'retrying'",
        timeout=60_000,
    )
    assert page.evaluate("window.notReloaded") is True
    assert "Connection refused" in page.inner_text(".follow-up.delivery")

    row = page.locator("#inbound tr[data-id]").first
    row.locator("input[name=text]").fill("And on Sunday 10-14")
    row.locator("button.reply-send").click()
    page.wait_for_load_state()
    assert "queued as message" in page.inner_text("body")
    with sessions.begin() as session:
        reply = session.scalar(select(Message).where(Message.text == "And on Sunday 10-14"))
    assert reply.recipient == "+79991112233" and reply.user_id == user["id"]

    page.fill("#q", "nothing like it")
    page.click("#inbound-search button")
    assert page.locator("#inbound tr[data-id]").count() == 0
    page.fill("#q", "hours")
    page.click("#inbound-search button")
    assert page.locator("#inbound tr[data-id]").count() == 1
    screenshot(page, "inbound")
