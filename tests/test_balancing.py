"""Choosing SIMs: monthly limits under concurrency, failover, retries."""

from __future__ import annotations

import threading

from sqlalchemy import func, select, update

from bridge.jobs.dispatch import NO_ROOM, dispatch
from bridge.jobs.health import check_health
from bridge.models import (
    AttemptOutcome,
    Message,
    MessageAttempt,
    MessageStatus,
    Outbox,
    OutboxMultipart,
    SentItem,
    Sim,
    SimUsage,
)
from bridge.sims import set_limit
from tests.conftest import wait_for
from tests.helpers import harvest_until, sent_parts
from tests.test_sending import queue


def parts_through(sessions, sim_name) -> int:
    with sessions.begin() as session:
        return session.scalar(
            select(func.coalesce(func.sum(MessageAttempt.parts), 0))
            .join(Sim, Sim.id == MessageAttempt.sim_id)
            .where(Sim.name == sim_name)
        )


def test_limit_of_5_parts_holds_with_4_dispatchers_at_once(modems, make_user, sessions, settings):
    make_user()
    modems.add("capped", limit=5)
    modems.add("open")
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", f"hello {n}")[0] for n in range(40)]

    start = threading.Barrier(4)
    errors = []

    def dispatcher():
        try:
            start.wait()
            while True:
                with sessions.begin() as session:
                    result = dispatch(session, settings, batch=3)
                if result.claimed == 0:
                    return
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
        assert session.scalar(select(SimUsage.parts).join(Sim).where(Sim.name == "capped")) == 5
        statuses = session.scalars(select(Message.status).where(Message.id.in_(ids))).all()
    assert statuses.count(MessageStatus.DISPATCHED) == 40
    # Every message is in exactly one outbox row (or already sent from it).
    with sessions.begin() as session:
        handed = (
            session.scalars(select(Outbox.creator_id)).all()
            + session.scalars(select(SentItem.creator_id)).all()
        )
    assert sorted(map(int, handed)) == sorted(ids)


def test_when_every_sim_is_full_messages_wait_with_a_reason(modems, make_user, sessions, settings, client):
    user = make_user()
    modems.add("a", limit=2)
    modems.add("b", limit=2)
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", "x")[0] for n in range(6)]
    with sessions.begin() as session:
        dispatch(session, settings)
    with sessions.begin() as session:
        rows = session.execute(select(Message.status, Message.wait_reason).where(Message.id.in_(ids))).all()
    assert sorted(s for s, _ in rows).count(MessageStatus.DISPATCHED) == 4
    waiting = [r for s, r in rows if s == MessageStatus.QUEUED]
    assert waiting == [NO_ROOM, NO_ROOM]
    view = client.get(
        f"/api/v1/messages/{ids[-1]}", headers={"Authorization": f"Bearer {user['key']}"}
    ).get_json()
    assert view["status"] == "queued" and view["wait_reason"] == NO_ROOM

    # Raising a limit lets the waiting messages go.
    with sessions.begin() as session:
        set_limit(session, "a", 10)
    wait_for(
        lambda: _dispatched_now(sessions, settings) or _all_dispatched(sessions, ids),
        what="waiting messages to leave once there is room",
    )


def _dispatched_now(sessions, settings):
    with sessions.begin() as session:
        return dispatch(session, settings).dispatched and False


def _all_dispatched(sessions, ids):
    with sessions.begin() as session:
        return all(
            s == MessageStatus.DISPATCHED
            for s in session.scalars(select(Message.status).where(Message.id.in_(ids)))
        )


def test_messages_in_a_killed_daemons_outbox_leave_through_the_other_sim(
    modems, make_user, sessions, settings
):
    make_user()
    modems.add("doomed")
    modems.hang("doomed")  # dies before it takes anything from its outbox
    modems.add("survivor", start=False)
    # Doomed looks healthy while its last heartbeat holds.
    with sessions.begin() as session:
        session.execute(update(Sim).where(Sim.name == "survivor").values(enabled=False))
    ids = [queue(sessions, settings, "alice", f"+7999123{n:04d}", f"m{n}")[0] for n in range(3)]
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 3
    with sessions.begin() as session:
        assert (
            session.scalar(select(func.count()).select_from(Outbox).where(Outbox.sender_id == "doomed")) == 3
        )
        session.execute(update(Sim).where(Sim.name == "survivor").values(enabled=True))
    modems.start("survivor")
    modems.heartbeat_runs_out("doomed")

    def taken_back():
        with sessions.begin() as session:
            return check_health(session).taken_back

    wait_for(taken_back, what="the dead SIM's heartbeat to expire and take-back")
    wait_for(lambda: _dispatch_and_count(sessions, settings, ids), what="re-dispatch")
    harvest_until(sessions, ids)
    for message_id in ids:
        assert {p.sender_id for p in sent_parts(sessions, message_id)} == {"survivor"}
    with sessions.begin() as session:
        outcomes = session.scalars(
            select(MessageAttempt.outcome)
            .where(MessageAttempt.message_id == ids[0])
            .order_by(MessageAttempt.id)
        ).all()
        assert outcomes == [AttemptOutcome.TAKEN_BACK, AttemptOutcome.SENT]
        assert session.get(Message, ids[0]).attempts_made == 1
        doomed_usage = session.scalar(select(SimUsage.parts).join(Sim).where(Sim.name == "doomed"))
        assert doomed_usage == 0


def _dispatch_and_count(sessions, settings, ids):
    with sessions.begin() as session:
        dispatch(session, settings)
        return all(
            s != MessageStatus.QUEUED
            for s in session.scalars(select(Message.status).where(Message.id.in_(ids)))
        )


class SendRejectedModem:
    """What gammu-smsd does when the network refuses a message and its own
    retries are spent: the outbox row moves to sentitems as SendingError.
    (Gammu's dummy phone always accepts, so this one step is done by hand,
    on a stopped daemon's outbox, exactly as the daemon's SQL would.)"""

    @staticmethod
    def reject(session, outbox_id: int) -> None:
        row = session.get(Outbox, outbox_id)
        session.add(
            SentItem(
                id=row.id,
                sequence_position=1,
                sending_datetime=row.sending_datetime,
                destination_number=row.destination_number,
                coding=row.coding,
                udh=row.udh or "",
                sms_class=row.sms_class or -1,
                text_decoded=row.text_decoded,
                sender_id=row.sender_id,
                status="SendingError",
                status_error=-1,
                creator_id=row.creator_id,
            )
        )
        session.query(OutboxMultipart).filter(OutboxMultipart.id == outbox_id).delete()
        session.delete(row)


def _pending_outbox_id(sessions, message_id):
    with sessions.begin() as session:
        return session.scalar(
            select(MessageAttempt.outbox_id).where(
                MessageAttempt.message_id == message_id, MessageAttempt.outcome == AttemptOutcome.PENDING
            )
        )


def test_sending_error_is_retried_on_another_sim(modems, make_user, sessions, settings):
    make_user()
    modems.add("flaky")
    modems.hang("flaky")
    modems.add("good", start=False)
    with sessions.begin() as session:
        session.execute(update(Sim).where(Sim.name == "good").values(enabled=False))
    [message_id] = queue(sessions, settings, "alice", "+79991234567", "retry me", attempts=2)
    with sessions.begin() as session:
        dispatch(session, settings)
    with sessions.begin() as session:
        SendRejectedModem.reject(session, _pending_outbox_id(sessions, message_id))
        session.execute(update(Sim).where(Sim.name == "good").values(enabled=True))
    modems.start("good")
    modems.start("flaky")  # healthy again: the retry must still prefer the other SIM
    harvest_until(sessions, [message_id], statuses=(MessageStatus.QUEUED,))
    with sessions.begin() as session:
        assert session.get(Message, message_id).last_error.startswith("SIM flaky")
        assert session.scalar(select(SimUsage.parts).join(Sim).where(Sim.name == "flaky")) == 0
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 1
    harvest_until(sessions, [message_id])
    assert [(p.sender_id, p.status) for p in sent_parts(sessions, message_id)] == [
        ("flaky", "SendingError"),
        ("good", "SendingOKNoReport"),
    ]


def test_sending_error_without_attempts_left_fails_and_releases_usage(modems, make_user, sessions, settings):
    make_user()
    modems.add("flaky", limit=10)
    modems.hang("flaky")
    [message_id] = queue(sessions, settings, "alice", "+79991234567", "x" * 300)  # 2 parts
    with sessions.begin() as session:
        dispatch(session, settings)
        assert session.scalar(select(SimUsage.parts)) == 2
    with sessions.begin() as session:
        SendRejectedModem.reject(session, _pending_outbox_id(sessions, message_id))
    harvest_until(sessions, [message_id], statuses=(MessageStatus.FAILED,))
    with sessions.begin() as session:
        assert session.scalar(select(SimUsage.parts)) == 0
        assert session.get(Message, message_id).finished_at is not None
