"""The send form and the rules page in a real browser (Debian's chromium,
driven by Playwright) against `smsbridge run`: scheduling from the form,
the recipients × parts counter, focus on open, editing and pausing a rule.
Fixtures in tests/conftest.py, steps in tests/browser.py."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bridge import rules
from bridge.clock import utcnow
from bridge.models import Rule
from tests.browser import log_in, needs_chromium, screenshot

pytestmark = needs_chromium


def test_schedule_a_message_for_tomorrow_and_see_it_scheduled_on_its_page(page, make_user, modems):
    user = make_user(admin=True)
    modems.add("simA", start=False)
    log_in(page, user)
    page.goto("/admin/send/")
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=10, minute=15, second=0, microsecond=0)
    page.fill("#to", "+79991234567")
    page.fill("#text", "See you tomorrow")
    page.fill("#send_at", tomorrow.strftime("%Y-%m-%d %H:%M"))
    page.select_option("#valid_for", "3600")
    page.click("#send")
    assert f"Scheduled for {tomorrow:%Y-%m-%d} 10:15:00 UTC" in page.inner_text("#accepted-scheduled")
    page.click("#accepted a.accepted-id")
    assert page.inner_text("#send-at") == f"scheduled for {tomorrow:%Y-%m-%d} 10:15:00 UTC"


def test_the_counter_says_recipients_times_parts_and_recipients_are_focused_on_open(page, make_user, modems):
    user = make_user(admin=True)
    modems.add("simA", start=False)
    log_in(page, user)
    page.goto("/admin/send/")
    assert page.evaluate("document.activeElement.id") == "to"
    # Repeats and blanks count once and not at all, as the server counts them.
    page.fill("#to", "+79991234567;\n+79991234568, +79991234567,")
    page.fill("#text", "x" * 200)  # GSM-7: 2 parts
    page.wait_for_function(
        "document.getElementById('sms-total').textContent === '2 recipients × 2 parts = 4 SMS'"
    )
    page.select_option("#sim", "simA")
    page.fill("#send_at", (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT09:00"))
    screenshot(page, "send")


def test_edit_a_rule_in_place_and_pause_it_from_the_page(page, make_user, sessions, settings, modems):
    modems.add("simA", start=False)  # no owner: the everyone reply rule is warned about
    with sessions.begin() as session:
        rule_id = rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="keyword",
            pattern="hours",
            action="reply",
            argument="9-18",
        ).id
        rules.add_rule(
            session, settings, login=None, match_kind="regex", pattern="stop", action="opt_out", argument=None
        )
    log_in(page, make_user(admin=True))
    page.goto("/admin/rules/")
    row = page.locator(f'tr[data-rule="{rule_id}"]')
    assert "SIM simA has no owner" in row.locator(".rule-warning").inner_text()
    row.locator("button.edit-rule").click()
    editor = page.locator(f"#edit-{rule_id}")
    assert page.evaluate("document.activeElement.id") == f"rule-{rule_id}-pattern"
    editor.locator("input[name=pattern]").fill("open")
    editor.locator("input[name=argument]").fill("Open 10-19, Mon-Sat")
    editor.locator("button.save-rule").click()
    page.wait_for_selector("text=Rule saved")
    assert "keyword 'open' -> reply Open 10-19, Mon-Sat" in row.inner_text()
    row.locator("button.pause-rule").click()
    row.locator(".rule-paused").wait_for()
    with sessions.begin() as session:
        saved = session.scalar(select(Rule).where(Rule.id == rule_id))
        assert (saved.pattern, saved.argument, saved.enabled, saved.position) == (
            "open",
            "Open 10-19, Mon-Sat",
            False,
            1,
        )
    screenshot(page, "rules")
