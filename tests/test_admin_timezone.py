"""Times in the reader's time zone: one format on every admin page, a
time zone per user (stored times stay UTC), date filters read as that
user's calendar days."""

from __future__ import annotations

import html
from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from bridge import users
from bridge.clock import local_day_bounds, show_time, show_times_in
from bridge.models import Message, Sim, User
from tests.test_admin_pages import log_in, post, queue


@pytest.fixture
def sim(sessions):
    """A SIM row without a daemon: enough for accept() to take messages."""
    with sessions.begin() as session:
        session.add(Sim(name="simA", number="+79990000001", simulated=True, enabled=True))


def test_a_stored_time_reads_in_the_persons_zone_with_its_name():
    stored = datetime(2026, 11, 25, 6, 35, 24)  # naive UTC, as the database keeps it
    assert show_time(stored) == "2026-11-25 06:35:24 UTC"
    assert show_time(stored, "Europe/Moscow") == "2026-11-25 09:35:24 MSK"
    assert show_time("2026-11-25T06:35:24Z", "Asia/Yekaterinburg") == "2026-11-25 11:35:24 +05"
    # A name this host's zoneinfo does not know is shown in UTC, never guessed.
    assert show_time(stored, "Mars/Olympus") == "2026-11-25 06:35:24 UTC"


def test_a_local_day_is_bounded_in_utc_including_a_short_day():
    assert local_day_bounds(date(2026, 11, 25), "Europe/Moscow") == (
        datetime(2026, 11, 24, 21, 0),
        datetime(2026, 11, 25, 21, 0),
    )
    start, end = local_day_bounds(date(2026, 3, 29), "Europe/Berlin")  # clocks go forward
    assert (end - start).total_seconds() == 23 * 3600


def test_every_page_shows_times_in_the_signed_in_users_zone(client, make_user, sessions, settings, sim):
    admin = make_user("boss", admin=True)
    message_id = queue(sessions, settings, "boss")
    with sessions.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(created_at=datetime(2026, 11, 25, 6, 35, 24))
        )
        users.set_timezone(session, "boss", "Europe/Moscow")
    log_in(client, admin)
    for path in ("/admin/messages/", f"/admin/messages/{message_id}"):
        page = client.get(path).get_data(as_text=True)
        assert "2026-11-25 09:35:24 MSK" in page, path
        assert "06:35:24" not in page, path


def test_the_archive_filters_by_the_readers_calendar_day(client, make_user, sessions, settings, sim):
    admin = make_user("boss", admin=True)
    late_evening_utc = queue(sessions, settings, "boss", text="late")  # 22:30 UTC = next day in Moscow
    with sessions.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == late_evening_utc)
            .values(created_at=datetime(2026, 11, 24, 22, 30))
        )
    log_in(client, admin)
    in_utc = client.get("/admin/messages/?from=2026-11-25&to=2026-11-25").get_data(as_text=True)
    assert f'data-id="{late_evening_utc}"' not in in_utc
    with sessions.begin() as session:
        users.set_timezone(session, "boss", "Europe/Moscow")
    in_moscow = client.get("/admin/messages/?from=2026-11-25&to=2026-11-25").get_data(as_text=True)
    assert f'data-id="{late_evening_utc}"' in in_moscow
    assert 'placeholder="YYYY-MM-DD"' in in_moscow and 'type="date"' not in in_moscow
    bad = client.get("/admin/messages/?from=11/25/2026")
    assert bad.status_code == 400 and "is not a date (YYYY-MM-DD)" in bad.get_data(as_text=True)


def test_a_user_sets_their_own_zone_and_a_bad_one_is_refused_by_name(client, make_user, sessions):
    user = make_user("alice")
    log_in(client, user)
    page = client.get("/admin/account/").get_data(as_text=True)
    assert 'value="UTC"' in page and "Europe/Moscow" in page  # the datalist of zones
    refused = post(client, "/admin/account/", {"timezone": "Moscow"}, page="/admin/account/")
    assert refused.status_code == 400
    assert "unknown time zone 'Moscow'" in html.unescape(refused.get_data(as_text=True))
    saved = post(client, "/admin/account/", {"timezone": "Europe/Moscow"}, page="/admin/account/")
    assert saved.status_code == 302
    with sessions.begin() as session:
        assert session.scalar(select(User.timezone).where(User.login == "alice")) == "Europe/Moscow"
    assert "Times are now shown in Europe/Moscow" in client.get("/admin/account/").get_data(as_text=True)
    post(client, "/admin/account/", {"timezone": ""}, page="/admin/account/")
    with sessions.begin() as session:
        assert session.scalar(select(User.timezone).where(User.login == "alice")) is None


def test_moments_inside_stored_text_read_in_the_readers_zone_too():
    held = "quiet hours: texts go out 09:00-21:00 Europe/Moscow; held until 2026-11-26T06:00:00Z"
    assert show_times_in(held, "Europe/Moscow") == (
        "quiet hours: texts go out 09:00-21:00 Europe/Moscow; held until 2026-11-26 09:00:00 MSK"
    )
    assert show_times_in("SIM mts1: opens 2026-11-26T09:00:06.5Z", None) == (
        "SIM mts1: opens 2026-11-26 09:00:06 UTC"
    )
    assert show_times_in(None) == ""


def test_a_waiting_messages_reason_on_its_page_reads_in_the_readers_zone(
    client, make_user, sessions, settings, sim
):
    admin = make_user("boss", admin=True)
    message_id = queue(sessions, settings, "boss")
    with sessions.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(wait_reason="quiet hours; held until 2026-11-26T06:00:00Z")
        )
        users.set_timezone(session, "boss", "Asia/Yekaterinburg")
    log_in(client, admin)
    for path in ("/admin/messages/", f"/admin/messages/{message_id}"):
        page = client.get(path).get_data(as_text=True)
        assert "held until 2026-11-26 11:00:00 +05" in page, path
