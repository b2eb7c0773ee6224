"""The web admin in a real browser (Debian's chromium, driven by
Playwright) against the real server: `smsbridge run` as a subprocess, so
the worker inside it dispatches to real gammu-smsd daemons and harvests.
Fixtures in tests/conftest.py, steps in tests/browser.py.
"""

from __future__ import annotations

from tests.browser import XSS, log_in, message_count, needs_chromium, screenshot, send_from_form
from tests.conftest import wait_for

pytestmark = needs_chromium


def test_send_form_to_two_numbers_and_watch_them_reach_sent(page, make_user, modems):
    user = make_user(admin=True)
    modems.add("simA", limit=500)
    modems.add("simB", start=False)  # no daemon: an unhealthy card on the dashboard
    log_in(page, user)
    page.goto("/admin/send/")
    page.fill("#to", "+79991234567\n+79991234568")
    page.fill("#text", "Привет! Power is back.")
    page.wait_for_function("document.getElementById('counter').textContent.includes('UCS-2 · 1 part')")
    screenshot(page, "send")
    page.click("#send")
    page.locator("#accepted a.accepted-id").first.wait_for()
    ids = [int(t.lstrip("#")) for t in page.locator("#accepted a.accepted-id").all_inner_texts()]
    assert len(ids) == 2

    def both_sent():
        page.goto("/admin/messages/")
        return all(page.inner_text(f'tr[data-id="{i}"] .status') == "sent" for i in ids)

    wait_for(both_sent, timeout=30, interval=0.5, what="both messages to show as sent")
    screenshot(page, "archive")
    page.goto(f"/admin/messages/{ids[0]}")
    assert page.locator("#parts tbody tr").first.inner_text().count("SendingOK") == 1
    assert "sent" in page.inner_text("#timeline")
    screenshot(page, "message")
    page.goto("/admin/")
    assert page.locator('.sim-card[data-sim="simA"]').inner_text().count("2 / 500") == 1
    screenshot(page, "dashboard")


def test_a_user_cannot_open_another_users_message_by_url(page, browser, server, make_user, modems):
    alice, bob = make_user("alice"), make_user("bob")
    modems.add("simA", start=False)
    log_in(page, bob)
    [bobs] = send_from_form(page, "+79991234567", "for bob's eyes only")
    other = browser.new_context(base_url=server).new_page()
    log_in(other, alice)
    response = other.goto(f"/admin/messages/{bobs}")
    assert response.status == 404
    assert "for bob's eyes only" not in other.content()
    other.goto("/admin/messages/")
    assert other.locator(f'tr[data-id="{bobs}"]').count() == 0
    other.context.close()


def test_html_in_a_message_shows_as_text_on_every_page(page, make_user, modems):
    user = make_user(admin=True)
    modems.add("simA", start=False)
    log_in(page, user)
    [message_id] = send_from_form(page, "+79991234567", XSS)
    pages = ["/admin/messages/", f"/admin/messages/{message_id}", f"/admin/messages/?q={XSS}"]
    for path in pages:
        page.goto(path)
        assert page.get_by_text(XSS).first.is_visible(), path
        assert page.locator("img[src=x]").count() == 0, path
    # The notebook's half: tests/test_admin_notebook_browser.py


def test_a_form_posted_without_its_csrf_token_is_refused(page, make_user, modems, sessions):
    user = make_user()
    modems.add("simA", start=False)
    log_in(page, user)
    page.goto("/admin/send/")
    page.fill("#to", "+79991234567")
    page.fill("#text", "forged")
    page.eval_on_selector("#send-form input[name=csrf_token]", "e => e.remove()")
    page.click("#send")
    assert "Request refused" in page.inner_text("h1")
    assert message_count(sessions) == 0


def test_status_line_and_a_message_moving_without_a_reload(page, make_user, modems, sessions):
    user = make_user(admin=True)
    modems.add("simA", start=False)  # its daemon never started: nothing can send yet
    modems.health()
    log_in(page, user)
    page.goto("/admin/")
    line = page.locator("#status-line")
    assert line.get_attribute("data-level") == "red"
    assert "SIMs healthy 0/1" in line.inner_text()
    assert "never started" in page.locator('.sim-card[data-sim="simA"] .never-started').inner_text()

    [message_id] = send_from_form(page, "+79991234567", "watch me move")
    page.goto(f"/admin/messages/{message_id}")
    assert page.inner_text("#message-title .status") == "queued"
    page.evaluate("window.notReloaded = true")

    modems.start("simA")  # the modem comes up; the page is left alone
    page.wait_for_function(
        "document.querySelector('#message-title .status').textContent === 'sent'", timeout=45_000
    )
    assert page.evaluate("window.notReloaded") is True
    assert "SendingOK" in page.inner_text("#parts")

    page.goto("/admin/")
    page.evaluate("window.notReloaded = true")
    page.wait_for_function("document.getElementById('status-line').dataset.level === 'green'", timeout=30_000)
    text = page.inner_text("#status-line")
    assert "worker running (last pass" in text and "SIMs healthy 1/1" in text and "0 open alerts" in text
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "dashboard-status")


def test_a_sim_whose_daemon_never_started_can_be_started_from_its_card(page, make_user, modems):
    user = make_user(admin=True)
    modems.add("simB", start=False)
    log_in(page, user)
    page.goto("/admin/")
    card = page.locator('.sim-card[data-sim="simB"]')
    card.locator("button", has_text="Start it").click()
    page.wait_for_load_state()
    assert "simB's daemon runs" in page.inner_text("body"), page.inner_text("body")[:1500]
    page.wait_for_function(
        "document.querySelector('.sim-card[data-sim=\"simB\"] .sim-state').textContent === 'healthy'",
        timeout=30_000,
    )
