"""The web admin on a phone's screen (390×844): no page is wider than the
screen, whatever the data (long texts, numbers, URLs, SIM names); the
collapsed menu names the gateway and opens to the page links; the login
page has no menu to open. And at 1280 px the same pages still fit and show
their menu without a hamburger.

A gateway busy with realistic data: messages sent through a real
gammu-smsd daemon, a failed one, a text received through it, SIMs with long
names, users, opt-outs, rules (one forwarding to a closed port), an alert.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bridge import alerts, optouts, rules, users, webhooks
from bridge.accept import SendOptions, accept
from bridge.alert_checks import Finding
from bridge.clock import utcnow
from bridge.models import InboundMessage, Message, MessageStatus, User
from tests.browser import PHONE, log_in, needs_chromium, screenshot
from tests.conftest import wait_for

pytestmark = needs_chromium

SIM_NAMES = (
    "office-moscow-tele2-primary-line-for-notifications",
    "warehouse-kazan-megafon-backup-modem-usb-hub-port-3",
    "spare",
)
LONG_LOGIN = "night-shift.operations.team@example-logistics.org"
UNBROKEN = "https://track.example-logistics.org/parcels/RU0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ/status"
LONG_TEXT = (
    "Здравствуйте! Ваш заказ №4815162342 собран и передан в службу доставки. "
    f"Отследить посылку: {UNBROKEN} — курьер позвонит за час до приезда. "
    "Если вас не будет дома, ответьте на это сообщение словом ПЕРЕНОС и номером удобного дня."
)
CLOSED_PORT_URL = (
    "http://127.0.0.1:9/integrations/crm/inbound-sms/orders-and-support-department/"
    "webhook-receiver-endpoint?tenant=example-logistics&token=0123456789abcdef0123456789abcdef"
)
RECIPIENTS = ["+79991234567", "+79031234568", "+79261234569"]


@pytest.fixture
def busy_gateway(make_user, modems, sessions, settings):
    """Every admin table with rows, and long content in them; returns the
    admin's login and the ids of a sent and a failed message."""
    admin = make_user("root", admin=True)
    make_user(LONG_LOGIN)
    make_user("alice")
    modems.add(SIM_NAMES[0], limit=3000, owner=LONG_LOGIN)
    modems.add(SIM_NAMES[1], limit=40, start=False)
    modems.add(SIM_NAMES[2], start=False)
    with sessions.begin() as session:
        rules.add_rule(
            session,
            settings,
            login=None,
            match_kind="regex",
            pattern=r"(?i)^(перенос|move)\b.*",
            action="forward_url",
            argument=CLOSED_PORT_URL,
        )
        rules.add_rule(
            session,
            settings,
            login=LONG_LOGIN,
            match_kind="keyword",
            pattern="hours",
            action="reply",
            argument="We are open 9:00–18:00 Monday to Saturday; call +7 800 555-35-35 " * 2,
        )
        webhooks.set_webhook(session, settings, LONG_LOGIN, CLOSED_PORT_URL)
        for number in ("+79990001122", "+79990003344"):
            optouts.opt_out(
                session,
                number,
                reason="asked by phone: " + "please never text me again " * 6,
                source="admin",
                actor="root",
            )
        alerts.reconcile(
            session,
            settings,
            "sim:down",
            [
                Finding(
                    SIM_NAMES[1],
                    f"SIM {SIM_NAMES[1]} is down: its daemon has not written a heartbeat for 3 minutes",
                )
            ],
        )
        alerts.add_channel(
            session,
            settings,
            "email",
            "operations-alerts@example-logistics.org",
            smtp_host="mail.example-logistics.org",
        )
        owner = session.scalar(select(User).where(User.login == LONG_LOGIN))
        sent = accept(session, owner, RECIPIENTS, LONG_TEXT, settings=settings, source="test").messages
    sent_ids = [m["id"] for m in sent]

    def all_sent():
        with sessions.begin() as session:
            statuses = session.scalars(select(Message.status).where(Message.id.in_(sent_ids))).all()
        return all(s == MessageStatus.SENT for s in statuses)

    wait_for(all_sent, timeout=60, interval=0.3, what="the long messages to be sent")
    with sessions.begin() as session:
        # Only after the texts went out: set before, it held them whenever the
        # suite ran outside 09:00-21:00 Moscow (CI did, after 21:00).
        users.set_send_window(session, LONG_LOGIN, "09:00-21:00", "Europe/Moscow")
        owner = session.scalar(select(User).where(User.login == LONG_LOGIN))
        [failed] = accept(
            session,
            owner,
            "+79161234560",
            LONG_TEXT,
            SendOptions(quiet_hours=False),
            settings=settings,
            source="test",
        ).messages
        # Failed before the worker ever sees it: what a real failure leaves behind.
        message = session.get(Message, failed["id"])
        message.status, message.finished_at = MessageStatus.FAILED, utcnow()
        message.last_error = (
            f"SIM {SIM_NAMES[0]}: gammu-smsd reported a sending error (SendingError, code 27)"
        )
    modems.receive(SIM_NAMES[0], "+79991234567", "Перенос на четверг, пожалуйста. " + LONG_TEXT)

    def received():
        with sessions.begin() as session:
            return session.scalar(select(func.count()).select_from(InboundMessage))

    wait_for(received, timeout=30, interval=0.3, what="the received text")
    return {"admin": admin, "sent": sent_ids[0], "failed": failed["id"]}


def admin_pages(gateway) -> dict[str, str]:
    return {
        "dashboard": "/admin/",
        "messages": "/admin/messages/",
        "a message": f"/admin/messages/{gateway['sent']}",
        "a failed message": f"/admin/messages/{gateway['failed']}",
        "inbound": "/admin/inbound/",
        "send": "/admin/send/",
        "users": "/admin/users/",
        "SIMs": "/admin/sims/",
        "a SIM": f"/admin/sims/{SIM_NAMES[0]}/",
        "opt-outs": "/admin/optouts/",
        "rules": "/admin/rules/",
        "webhook": "/admin/webhook/",
        "alerts": "/admin/alerts/",
        "notebook": "/admin/notebook/",
    }


def log_in_on_a_phone(page, user: dict) -> None:
    """tests.browser.log_in, but "Log out" is in the collapsed menu here."""
    page.goto("/admin/")
    page.fill("#login", user["login"])
    page.fill("#password", user["password"])
    page.click("button[type=submit]")
    page.wait_for_selector("text=Log out", state="attached")


def open_menu(page) -> None:
    """Tap the hamburger and wait until the menu has finished sliding open."""
    page.click(".navbar-toggler")
    page.wait_for_selector("#admin-navbar-collapse.collapse.show")


def on_screen(locator) -> bool:
    """Wholly inside the phone's width (no sideways scrolling to see it)."""
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def send(sessions, settings, to: str, text: str) -> list[int]:
    with sessions.begin() as session:
        root = session.scalar(select(User).where(User.login == "root"))
        return [m["id"] for m in accept(session, root, to, text, settings=settings, source="test").messages]


def page_width(page, path: str) -> int:
    response = page.goto(path)
    assert response.status == 200, f"{path}: {response.status}"
    return page.evaluate("document.documentElement.scrollWidth")


def test_no_admin_page_is_wider_than_a_phone(phone_page, busy_gateway):
    log_in_on_a_phone(phone_page, busy_gateway["admin"])
    widths = {name: page_width(phone_page, path) for name, path in admin_pages(busy_gateway).items()}
    phone_page.goto("/admin/")
    screenshot(phone_page, "dashboard-phone")
    phone_page.goto("/admin/messages/")
    screenshot(phone_page, "archive-phone")
    failed = phone_page.locator(f'#archive tr[data-id="{busy_gateway["failed"]}"]')
    for part in (".status", ".reason"):
        assert on_screen(failed.locator(part)), f"the archive's {part} of a failed message is off the screen"
    phone_page.goto(f"/admin/messages/{busy_gateway['sent']}")
    screenshot(phone_page, "message-phone")
    open_menu(phone_page)
    phone_page.click("text=Log out")
    phone_page.wait_for_selector("#login")
    widths["the login page"] = phone_page.evaluate("document.documentElement.scrollWidth")
    too_wide = {name: width for name, width in widths.items() if width > PHONE["width"]}
    assert too_wide == {}, f"wider than the phone's {PHONE['width']} px: {too_wide}"


def test_a_message_arriving_on_the_open_archive_reads_as_a_card_too(
    phone_page, make_user, modems, sessions, settings
):
    admin = make_user("root", admin=True)
    modems.add(SIM_NAMES[1], start=False)
    log_in_on_a_phone(phone_page, admin)
    send(sessions, settings, "+79991234567", "the first")
    phone_page.goto("/admin/messages/")
    [later] = send(sessions, settings, "+79031234568", LONG_TEXT)
    row = phone_page.locator(f'#archive tr[data-id="{later}"]')
    row.wait_for()  # swapped in by the page's refresh, without a reload
    assert on_screen(row.locator(".status")), "the new message's status is off the screen"
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_collapsed_menu_names_the_gateway_and_opens_to_the_page_links(phone_page, make_user):
    log_in_on_a_phone(phone_page, make_user("root", admin=True))
    brand = phone_page.locator("nav .navbar-brand")
    assert brand.is_visible() and brand.inner_text() == "smsbridge"
    links = phone_page.locator("#admin-navbar-collapse a.nav-link", has_text="Messages")
    assert not links.is_visible()
    open_menu(phone_page)
    assert links.is_visible()
    menu = phone_page.inner_text("#admin-navbar-collapse")
    for name in ("Dashboard", "Messages", "Inbound", "Send", "SIMs", "Reports", "Alerts", "Log out"):
        assert name in menu, name
    phone_page.click("#admin-navbar-collapse a.nav-link:text-is('SIMs')")
    phone_page.wait_for_url("**/admin/sims/")


def test_the_login_page_on_a_phone_shows_the_name_and_no_empty_menu(phone_page):
    phone_page.goto("/admin/")
    phone_page.wait_for_selector("#login")
    assert phone_page.locator("nav .navbar-brand").is_visible()
    assert phone_page.locator(".navbar-toggler").count() == 0
    screenshot(phone_page, "login-phone")


def test_on_a_desktop_every_page_fits_and_the_menu_needs_no_hamburger(page, busy_gateway):
    log_in(page, busy_gateway["admin"])
    assert page.locator(".navbar-toggler").is_hidden()
    assert page.locator("#admin-navbar-collapse a.nav-link", has_text="Messages").is_visible()
    widths = {name: page_width(page, path) for name, path in admin_pages(busy_gateway).items()}
    too_wide = {name: width for name, width in widths.items() if width > page.viewport_size["width"]}
    assert too_wide == {}, f"wider than the window: {too_wide}"
    for name, path in (("sims", "/admin/sims/"), ("inbound", "/admin/inbound/")):
        page.goto(path)
        screenshot(page, name)
