"""Pacing and quiet hours on the real MariaDB and real gammu-smsd daemons:
a SIM is handed only what fits its rolling minute, hour and day and its
recipients per month, however many dispatchers run; the rest waits with a
reason naming the window and when it opens, or goes through another SIM;
a user's send window holds texts unless they opt out. Windows are tested
with an injected ``now``; bench/pacing.py shows the real rate."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from bridge import sims, users
from bridge.clock import utcnow
from bridge.jobs.dispatch import NO_PACE, dispatch
from bridge.models import Message, MessageAttempt, MessageStatus, Outbox, Sim, SimRecipient
from bridge.quiet_hours import SendWindow
from bridge.usage import Pace, Traffic, slot
from tests.conftest import wait_for
from tests.helpers import harvest_until
from tests.test_balancing import parts_through
from tests.test_cli import invoke
from tests.test_json_api import post as post_message
from tests.test_sending import queue

T0 = datetime(2026, 3, 1, 12, 0, 0)


def pace(sessions, name, **limits):
    with sessions.begin() as session:
        sims.set_pacing(session, name, **limits)


def make_due(sessions):
    """Every queued message due long ago, so a dispatch at any injected ``now`` takes it."""
    with sessions.begin() as session:
        session.execute(
            update(Message).where(Message.status == MessageStatus.QUEUED).values(due_at=datetime(2000, 1, 1))
        )


def statuses(sessions, ids):
    with sessions.begin() as session:
        rows = session.execute(
            select(Message.id, Message.status, Message.wait_reason).where(Message.id.in_(ids))
        ).all()
    return {row.id: (row.status, row.wait_reason) for row in rows}


def outbox_times(sessions, sim_name):
    with sessions.begin() as session:
        return session.scalars(
            select(Outbox.sending_datetime).where(Outbox.sender_id == sim_name).order_by(Outbox.id)
        ).all()


# --------------------------------------------------------------------------
# The windows as arithmetic


def test_a_window_opens_when_enough_sent_parts_have_left_it():
    sent = Traffic(sent=[(T0 - timedelta(seconds=50), 2), (T0 - timedelta(seconds=10), 1)])
    # A send stays a second longer than its window: Gammu records it by the second.
    assert slot(Pace(per_minute=3), sent, 1, T0).at == T0 + timedelta(seconds=11)
    assert slot(Pace(per_minute=4), sent, 1, T0).at == T0
    assert slot(Pace(per_hour=3), sent, 1, T0).at == T0 + timedelta(minutes=59, seconds=11)


def test_parts_in_flight_count_in_every_window_and_a_full_one_has_no_time():
    busy = Traffic(in_flight=3)
    assert slot(Pace(per_day=3), busy, 1, T0) == slot(Pace(per_day=3), busy, 1, T0)
    assert slot(Pace(per_day=3), busy, 1, T0).at is None
    assert slot(Pace(per_day=3), Traffic(), 4, T0).window == "3 parts per day (a text of 4)"


def test_send_window_opens_in_local_time_across_midnight_and_dst():
    moscow = SendWindow(time(9), time(21), "Europe/Moscow")  # UTC+3, no DST
    assert moscow.opens_at(datetime(2026, 1, 15, 12, 0)) is None  # 15:00 local
    assert moscow.opens_at(datetime(2026, 1, 15, 18, 0)) == datetime(2026, 1, 16, 6, 0)  # 21:00 local
    assert moscow.opens_at(datetime(2026, 1, 15, 5, 59)) == datetime(2026, 1, 15, 6, 0)
    night = SendWindow(time(22), time(6), "UTC")
    assert night.opens_at(datetime(2026, 1, 15, 23, 0)) is None
    assert night.opens_at(datetime(2026, 1, 15, 6, 0)) == datetime(2026, 1, 15, 22, 0)
    # New York moves its clocks on 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 after.
    york = SendWindow(time(9), time(17), "America/New_York")
    assert york.opens_at(datetime(2026, 3, 7, 23, 0)) == datetime(2026, 3, 8, 13, 0)
    assert york.opens_at(datetime(2026, 3, 6, 23, 0)) == datetime(2026, 3, 7, 14, 0)


# --------------------------------------------------------------------------
# Dispatch


def test_a_sim_gets_its_minute_spaced_out_and_the_rest_waits_naming_the_window(
    modems, make_user, sessions, settings
):
    make_user()
    modems.add("paced")
    pace(sessions, "paced", max_per_minute=4)
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", f"m{n}")[0] for n in range(6)]
    now = utcnow() + timedelta(hours=1)  # slots ahead of the daemon's clock: nothing leaves yet
    with sessions.begin() as session:
        result = dispatch(session, settings, now=now)
    assert (result.dispatched, result.waiting) == (4, 2)
    # 60/4 = 15 s apart; Gammu sends a row in the second after SendingDateTime,
    # so a slot within a second is written as the second before it.
    times = outbox_times(sessions, "paced")
    assert times[0] == now.replace(microsecond=0) - timedelta(seconds=1)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
    assert gaps[0] in (15, 16) and gaps[1:] == [15, 15]
    with sessions.begin() as session:
        slots = session.scalars(select(MessageAttempt.send_after).order_by(MessageAttempt.id)).all()
    assert slots == [now + timedelta(seconds=15 * n) for n in range(4)]
    waiting = [
        reason for status, reason in statuses(sessions, ids).values() if status == MessageStatus.QUEUED
    ]
    assert waiting == ["SIM paced: 4 parts per minute, once it sends the texts it holds"] * 2


def test_sent_parts_leave_the_window_a_minute_after_they_went_out(modems, make_user, sessions, settings):
    make_user()
    modems.add("paced")
    pace(sessions, "paced", max_per_minute=2)
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", f"m{n}")[0] for n in range(4)]
    make_due(sessions)
    # Slots in the past of the daemon's clock: it sends both at once.
    with sessions.begin() as session:
        assert dispatch(session, settings, now=utcnow() - timedelta(seconds=40)).dispatched == 2
    first = [i for i, (status, _) in statuses(sessions, ids).items() if status == MessageStatus.DISPATCHED]
    harvest_until(sessions, first)
    with sessions.begin() as session:
        went = session.scalars(select(MessageAttempt.finished_at).order_by(MessageAttempt.finished_at)).all()
    # A second later both are still in the minute: with a look-ahead of a
    # second, the next waits for the first to leave it.
    short = dataclasses.replace(settings, pacing_lookahead=1.0)
    with sessions.begin() as session:
        assert dispatch(session, short, now=went[-1] + timedelta(seconds=1)).dispatched == 0
    opens = (went[0] + timedelta(seconds=61)).isoformat()
    assert {
        reason for status, reason in statuses(sessions, ids).values() if status == MessageStatus.QUEUED
    } == {f"SIM paced: 2 parts per minute, opens {opens}Z"}
    # With the default look-ahead (a minute) the first is handed over for
    # when the oldest send leaves the minute; the second is 30 s behind it.
    later = went[-1] + timedelta(seconds=1)
    make_due(sessions)
    with sessions.begin() as session:
        assert dispatch(session, settings, now=later).dispatched == 1
        [slot_] = session.scalars(
            select(MessageAttempt.send_after).where(MessageAttempt.finished_at.is_(None))
        ).all()
    assert slot_ == max(went[0] + timedelta(seconds=61), later)
    behind = slot_ + timedelta(seconds=30)  # whole seconds: sends are stored by the second
    assert {
        reason for status, reason in statuses(sessions, ids).values() if status == MessageStatus.QUEUED
    } == {f"SIM paced: spacing between texts, opens {behind.isoformat()}Z"}


def test_a_full_sim_hands_the_rest_to_another_and_then_all_wait(modems, make_user, sessions, settings):
    make_user()
    modems.add("a")
    modems.add("b")
    pace(sessions, "a", max_per_day=1)
    pace(sessions, "b", max_per_hour=2)
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", f"m{n}")[0] for n in range(5)]
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 3
    assert (parts_through(sessions, "a"), parts_through(sessions, "b")) == (1, 2)
    reasons = {
        reason for status, reason in statuses(sessions, ids).values() if status == MessageStatus.QUEUED
    }
    [reason] = reasons
    assert reason.startswith(NO_PACE + "; first SIM ")


def test_recipients_per_month_counts_distinct_numbers(modems, make_user, sessions, settings):
    make_user()
    modems.add("careful")
    pace(sessions, "careful", max_recipients_per_month=2)
    numbers = ["+79991230001", "+79991230002", "+79991230001", "+79991230003"]
    ids = [queue(sessions, settings, "alice", number, f"m{n}")[0] for n, number in enumerate(numbers)]
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 3  # the third number waits
        assert session.scalar(select(func.count()).select_from(SimRecipient)) == 2
    status, reason = statuses(sessions, ids)[ids[3]]
    assert status == MessageStatus.QUEUED
    assert reason.startswith("SIM careful: 2 recipients per month, opens ")


def test_jitter_spreads_the_texts_of_a_sim(modems, make_user, sessions, settings):
    make_user()
    modems.add("shy")
    pace(sessions, "shy", jitter=10)
    for n in range(5):
        queue(sessions, settings, "alice", f"+7999123{n:04d}", f"m{n}")
    with sessions.begin() as session:
        dispatch(session, settings, now=utcnow() + timedelta(hours=1))
    times = outbox_times(sessions, "shy")
    assert len(times) == 5 and times == sorted(times) and times[-1] > times[0]
    assert times[-1] - times[0] <= timedelta(seconds=40)


@pytest.mark.parametrize(
    "limit",
    [
        {"max_per_minute": 5},
        {"max_per_hour": 5},
        {"max_per_day": 5},
        {"max_recipients_per_month": 5},
    ],
    ids=lambda limit: next(iter(limit)),
)
def test_pacing_holds_with_4_dispatchers_at_once(modems, make_user, sessions, settings, limit):
    make_user()
    modems.add("capped")
    modems.add("open")
    pace(sessions, "capped", **limit)
    if "max_per_minute" in limit:
        # Spacing makes an unpaced SIM always sooner: pace the other one too,
        # with room for exactly the rest (35 slots 60/35 s apart fit a minute).
        pace(sessions, "open", max_per_minute=35)
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", f"hello {n}")[0] for n in range(40)]
    start = threading.Barrier(4)
    errors = []

    def dispatcher():
        try:
            start.wait()
            while True:
                with sessions.begin() as session:
                    result = dispatch(session, settings, batch=3)
                if result.claimed == 0 or result.waiting == result.claimed:
                    return  # nothing left, or nothing that fits
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert parts_through(sessions, "capped") == 5
    assert parts_through(sessions, "open") == 35
    with sessions.begin() as session:
        assert set(session.scalars(select(Message.status).where(Message.id.in_(ids)))) == {
            MessageStatus.DISPATCHED
        }
        recipients = session.scalar(
            select(func.count(func.distinct(Message.recipient)))
            .join(MessageAttempt, MessageAttempt.message_id == Message.id)
            .join(Sim, Sim.id == MessageAttempt.sim_id)
            .where(Sim.name == "capped")
        )
    assert recipients == 5


# --------------------------------------------------------------------------
# Quiet hours


def test_quiet_hours_hold_a_text_until_the_window_opens_unless_it_opts_out(
    modems, make_user, sessions, settings, client
):
    user = make_user()
    modems.add("simA")
    with sessions.begin() as session:
        users.set_send_window(session, "alice", "09:00-21:00", "Europe/Moscow")
    [held] = queue(sessions, settings, "alice", "+79991234567", "promo")
    code = post_message(
        client, user["key"], {"to": "+79991234568", "text": "code 1234", "quiet_hours": False}
    )
    assert code.status_code == 202
    classic = client.get(
        "/smsc", query_string={"login": "alice", "pass": user["password"], "tel": "+79991234569", "msg": "hi"}
    )
    [classic_id] = classic.get_json()["ids"]

    night = datetime(2026, 1, 15, 20, 0)  # 23:00 in Moscow
    make_due(sessions)
    with sessions.begin() as session:
        assert dispatch(session, settings, now=night).dispatched == 1
    hold = "quiet hours: texts go out 09:00-21:00 Europe/Moscow; held until 2026-01-16T06:00:00Z"
    assert statuses(sessions, [held, classic_id]) == {
        held: (MessageStatus.QUEUED, hold),
        classic_id: (MessageStatus.QUEUED, hold),
    }
    view = client.get(f"/api/v1/messages/{held}", headers={"Authorization": f"Bearer {user['key']}"})
    assert view.get_json()["wait_reason"] == hold and view.get_json()["quiet_hours"] is True
    with sessions.begin() as session:
        assert session.get(Message, held).due_at == datetime(2026, 1, 16, 6, 0)
    make_due(sessions)

    with sessions.begin() as session:
        assert dispatch(session, settings, now=datetime(2026, 1, 16, 6, 0, 1)).dispatched == 2


def test_a_paced_slot_after_the_window_closes_waits_for_the_next_day(modems, make_user, sessions, settings):
    make_user()
    modems.add("slow")
    pace(sessions, "slow", max_per_minute=2)  # the second 30 s after the first: at 21:00
    with sessions.begin() as session:
        users.set_send_window(session, "alice", "09:00-21:00", "UTC")
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", f"m{n}")[0] for n in range(2)]
    make_due(sessions)
    with sessions.begin() as session:
        assert dispatch(session, settings, now=datetime(2026, 1, 15, 20, 59, 30)).dispatched == 1
    [(status, reason)] = [v for v in statuses(sessions, ids).values() if v[0] == MessageStatus.QUEUED]
    assert reason == "SIM slow: quiet hours (09:00-21:00 UTC), opens 2026-01-16T09:00:00Z"


# --------------------------------------------------------------------------
# CLI, API and admin


def test_cli_sets_pacing_and_send_windows_and_refuses_bad_values(runner, modems, make_user, sessions):
    make_user()
    modems.add("simA", start=False)
    done = invoke(
        runner, "sim", "set", "simA", "--max-per-minute", "30", "--max-per-day", "500", "--jitter", "3"
    )
    assert done.exit_code == 0, done.output
    with sessions.begin() as session:
        sim = session.scalar(select(Sim).where(Sim.name == "simA"))
        assert (sim.max_per_minute, sim.max_per_hour, sim.max_per_day, sim.jitter) == (30, None, 500, 3)
    assert "0/30 per minute 0/500 per day" in invoke(runner, "sim", "list").output
    assert invoke(runner, "sim", "set", "simA", "--max-per-day", "none").exit_code == 0
    refused = invoke(runner, "sim", "set", "simA", "--max-per-minute", "0")
    assert refused.exit_code == 1
    assert (
        refused.output.strip().splitlines()[-1].startswith("Error: max_per_minute: --max-per-minute: a whole")
    )

    window = invoke(
        runner, "user", "set", "alice", "--send-window", "09:00-21:00", "--timezone", "Europe/Moscow"
    )
    assert window.output == "user alice: texts go out 09:00-21:00 Europe/Moscow, held outside it\n"
    for args, says in [
        (["--send-window", "9 to 5"], "send_window: a send window is HH:MM-HH:MM"),
        (["--timezone", "Mars/Olympus"], "timezone: unknown time zone 'Mars/Olympus'"),
        (["--send-window", "10:00-10:00"], "send_window: a send window needs a start and an end"),
    ]:
        bad = invoke(runner, "user", "set", "alice", *args)
        assert bad.exit_code == 1 and says in bad.output and "Traceback" not in bad.output
    assert invoke(runner, "user", "set", "alice", "--send-window", "none").output.endswith("any time\n")


def test_api_shows_windows_and_refuses_a_quiet_hours_that_is_no_boolean(
    client, modems, make_user, sessions, settings
):
    user = make_user()
    modems.add("simA")
    pace(sessions, "simA", max_per_minute=10, max_recipients_per_month=100)
    post_message(client, user["key"], {"to": "+79991234567", "text": "x"})
    with sessions.begin() as session:
        dispatch(session, settings, now=utcnow() + timedelta(hours=1))
    [sim] = client.get("/api/v1/sims", headers={"Authorization": f"Bearer {user['key']}"}).get_json()
    assert sim["windows"] == [
        {"window": "minute", "limit": 10, "used": 1},
        {"window": "hour", "limit": None, "used": 1},
        {"window": "day", "limit": None, "used": 1},
    ]
    assert (sim["max_recipients_per_month"], sim["recipients_this_period"], sim["jitter"]) == (100, 1, 0)
    refused = post_message(client, user["key"], {"to": "+79991234567", "text": "x", "quiet_hours": "no"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["field"] == "quiet_hours"


def test_admin_sets_sim_pacing_and_a_users_send_window(client, make_user, sessions, modems):
    from tests.test_admin_pages import log_in, post

    admin = make_user("root", admin=True)
    modems.add("simZ", start=False)
    log_in(client, admin)
    page = client.get("/admin/sims/").get_data(as_text=True)
    assert 'name="max_per_minute"' in page and 'name="jitter"' in page
    post(
        client,
        "/admin/sims/simZ/settings",
        {"billing_day": "1", "max_per_minute": "20", "max_per_hour": "", "max_per_day": "300", "jitter": "5"},
    )
    bad = post(client, "/admin/sims/simZ/settings", {"billing_day": "1", "max_per_minute": "lots"})
    assert bad.status_code == 302
    assert "is not a whole number" in client.get("/admin/sims/").get_data(as_text=True)
    post(client, "/admin/users/root/window", {"send_window": "08:30-20:00", "timezone": "Asia/Yekaterinburg"})
    with sessions.begin() as session:
        sim = session.scalar(select(Sim).where(Sim.name == "simZ"))
        assert (sim.max_per_minute, sim.max_per_hour, sim.max_per_day, sim.jitter) == (20, None, 300, 5)
        root = users.get_user(session, "root")
        assert users.send_window(root).describe() == "08:30-20:00 Asia/Yekaterinburg"
    assert 'value="08:30-20:00"' in client.get("/admin/users/").get_data(as_text=True)
    post(client, "/admin/users/root/window", {"send_window": "", "timezone": ""})
    with sessions.begin() as session:
        assert users.send_window(users.get_user(session, "root")) is None


def test_admin_send_form_can_skip_quiet_hours(client, make_user, sessions, modems):
    from tests.test_admin_pages import log_in, post

    admin = make_user("root", admin=True)
    modems.add("simA", start=False)
    log_in(client, admin)
    post(client, "/admin/send/", {"to": "+79991234567", "text": "alarm", "attempts": "1", "anytime": "on"})
    wait_for(lambda: _message_count(sessions), what="the message")
    with sessions.begin() as session:
        assert session.scalar(select(Message.quiet_hours)) is False


def _message_count(sessions):
    with sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(Message))
