"""Browser tests' fixtures and steps: Debian's chromium driven by
Playwright against `smsbridge run` as a subprocess.

The fixtures ``browser``, ``server``, ``page`` (1280 px) and ``phone_page``
(390 px) are in tests/conftest.py; a browser test module sets
``pytestmark = needs_chromium``. One server and one browser per module
(starting them is the slow part); every test gets a fresh browser context,
i.e. no cookies.
Set SMSBRIDGE_SCREENSHOTS=docs to refresh the README's screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bridge.models import Message

CHROMIUM = "/usr/bin/chromium"
# No downloads, no phoning home: the test machine may have no internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("SMSBRIDGE_SCREENSHOTS")
XSS = "<img src=x onerror=alert(1)>"

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/bootstrap.sh installs it)"
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def new_page(browser, server, viewport, **options):
    context = browser.new_context(base_url=server, viewport=viewport, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.dialogs = []  # any alert() the page manages to run lands here

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


def log_in(page, user: dict) -> None:
    page.goto("/admin/")
    page.fill("#login", user["login"])
    page.fill("#password", user["password"])
    page.click("button[type=submit]")
    page.wait_for_selector("text=Log out")


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"admin-{name}.png"), full_page=True)


def send_from_form(page, to: str, text: str) -> list[int]:
    page.goto("/admin/send/")
    page.fill("#to", to)
    page.fill("#text", text)
    page.click("#send")
    links = page.locator("#accepted a.accepted-id")
    links.first.wait_for()
    return [int(t.lstrip("#")) for t in links.all_inner_texts()]


def message_count(sessions) -> int:
    with sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(Message))
