"""Harvest: what gammu-smsd wrote to ``sentitems`` becomes message state;
errors are retried on another SIM while attempts remain. Take-back returns
messages from a dead SIM's outbox to the queue.

Both start from pending attempts and lock them (``SKIP LOCKED``) before
the messages they belong to, the same order everywhere, so parallel
workers neither collide nor deadlock.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import case, delete, exists, func, select, update
from sqlalchemy.orm import Session

from .. import usage, webhooks
from ..clock import utcnow
from ..models import (
    AttemptOutcome,
    Message,
    MessageAttempt,
    MessageStatus,
    Outbox,
    OutboxMultipart,
    SentItem,
    Sim,
)

SENT_STATUSES = (
    "SendingOK",
    "SendingOKNoReport",
    "DeliveryOK",
    "DeliveryFailed",
    "DeliveryPending",
    "DeliveryUnknown",
)
ERROR_STATUSES = ("SendingError", "Error")
# What finishing, taking back or abandoning an attempt needs to know of it.
_ATTEMPT = (
    MessageAttempt.id,
    MessageAttempt.message_id,
    MessageAttempt.sim_id,
    MessageAttempt.parts,
    MessageAttempt.period_start,
    MessageAttempt.outbox_id,
)


@dataclasses.dataclass
class HarvestResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclasses.dataclass
class _Verdict:
    attempt_id: int
    message_id: int
    sim_id: int
    parts: int
    period_start: object
    ok_parts: int
    error_parts: int
    last_sent: datetime | None


def harvest(session: Session, *, now: datetime | None = None, limit: int = 2000) -> HarvestResult:
    """One pass over attempts that gammu-smsd has finished. Caller commits."""
    now = now or utcnow()
    result = HarvestResult()
    ok = func.sum(case((SentItem.status.in_(SENT_STATUSES), 1), else_=0))
    bad = func.sum(case((SentItem.status.in_(ERROR_STATUSES), 1), else_=0))
    finished = session.execute(
        select(
            MessageAttempt.id,
            ok.label("ok"),
            bad.label("bad"),
            func.max(SentItem.sending_datetime).label("last_sent"),
        )
        .join(SentItem, SentItem.id == MessageAttempt.outbox_id)
        .where(MessageAttempt.outcome == AttemptOutcome.PENDING)
        .group_by(MessageAttempt.id, MessageAttempt.parts)
        .having((ok >= MessageAttempt.parts) | (bad > 0))
        .limit(limit)
    ).all()
    if not finished:
        return result
    facts = {row.id: row for row in finished}
    locked = session.execute(
        select(*_ATTEMPT)
        .where(MessageAttempt.id.in_(facts), MessageAttempt.outcome == AttemptOutcome.PENDING)
        .with_for_update(skip_locked=True)
    ).all()
    sent_ids, failed_ids = [], []
    releases: dict = defaultdict(int)
    for attempt in locked:
        fact = facts[attempt.id]
        verdict = _Verdict(
            attempt.id,
            attempt.message_id,
            attempt.sim_id,
            attempt.parts,
            attempt.period_start,
            int(fact.ok or 0),
            int(fact.bad or 0),
            fact.last_sent,
        )
        if verdict.error_parts == 0:
            _mark_sent(session, verdict, now)
            sent_ids.append(verdict.message_id)
        elif _outbox_row_gone(session, attempt.outbox_id):
            # gammu-smsd gives up on a message only after moving it out of
            # its outbox; while the row is there it may still be retrying.
            releases[(verdict.sim_id, verdict.period_start)] -= verdict.parts - verdict.ok_parts
            if _mark_error(session, verdict, now):
                result.retried += 1
            else:
                failed_ids.append(verdict.message_id)
    usage.change(session, releases)
    result.sent, result.failed = len(sent_ids), len(failed_ids)
    session.flush()
    webhooks.message_event(session, sent_ids, "sms:sent", now=now)
    webhooks.message_event(session, failed_ids, "sms:failed", now=now)
    return result


def harvest_reports(session: Session, *, now: datetime | None = None, limit: int = 2000) -> int:
    """Delivery reports gammu-smsd wrote into ``sentitems``: every part
    delivered -> ``delivered``; any part refused -> ``undelivered``."""
    now = now or utcnow()
    delivered = func.sum(case((SentItem.status == "DeliveryOK", 1), else_=0))
    refused = func.sum(case((SentItem.status == "DeliveryFailed", 1), else_=0))
    rows = session.execute(
        select(
            MessageAttempt.message_id,
            MessageAttempt.parts,
            delivered.label("delivered"),
            refused.label("refused"),
            func.max(SentItem.delivery_datetime).label("at"),
            func.max(SentItem.status_error).label("code"),
        )
        .join(Message, Message.id == MessageAttempt.message_id)
        .join(SentItem, SentItem.id == MessageAttempt.outbox_id)
        .where(Message.status == MessageStatus.SENT, MessageAttempt.outcome == AttemptOutcome.SENT)
        .group_by(MessageAttempt.id, MessageAttempt.message_id, MessageAttempt.parts)
        .having((delivered >= MessageAttempt.parts) | (refused > 0))
        .limit(limit)
    ).all()
    changed = {"sms:delivered": [], "sms:failed": []}
    for row in rows:
        status = MessageStatus.UNDELIVERED if row.refused else MessageStatus.DELIVERED
        done = session.execute(
            update(Message)
            .where(Message.id == row.message_id, Message.status == MessageStatus.SENT)
            .values(
                status=status,
                finished_at=row.at or now,
                delivery_status=row.code,
                last_error="the network reported it undelivered" if row.refused else None,
            )
        ).rowcount
        if done:
            changed["sms:failed" if row.refused else "sms:delivered"].append(row.message_id)
    session.flush()
    for event, ids in changed.items():
        webhooks.message_event(session, ids, event, now=now)
    return sum(len(ids) for ids in changed.values())


def _outbox_row_gone(session: Session, outbox_id: int) -> bool:
    return not session.scalar(select(exists().where(Outbox.id == outbox_id)))


def _mark_sent(session: Session, verdict: _Verdict, now: datetime) -> None:
    session.execute(
        update(MessageAttempt)
        .where(MessageAttempt.id == verdict.attempt_id)
        # When it went on the air: the SIM's pacing windows count it from then.
        .values(outcome=AttemptOutcome.SENT, finished_at=verdict.last_sent or now)
    )
    session.execute(
        update(Message)
        .where(Message.id == verdict.message_id, Message.status == MessageStatus.DISPATCHED)
        .values(status=MessageStatus.SENT, sent_at=verdict.last_sent or now)
    )


def _mark_error(session: Session, verdict: _Verdict, now: datetime) -> bool:
    """Record the failed attempt; requeue the message if it may try again
    (True) or fail it (False). The caller releases the parts that did not go out."""
    sim_name = session.scalar(select(Sim.name).where(Sim.id == verdict.sim_id))
    error = f"SIM {sim_name}: gammu-smsd reported a sending error"
    session.execute(
        update(MessageAttempt)
        .where(MessageAttempt.id == verdict.attempt_id)
        .values(outcome=AttemptOutcome.ERROR, finished_at=now, error=error)
    )
    return _requeue_or_fail(session, verdict.message_id, now, error)


def _requeue_or_fail(
    session: Session, message_id: int, now: datetime, error: str, counts_as_attempt: bool = True
) -> bool:
    message = session.execute(
        select(Message.attempts_made, Message.attempts_allowed, Message.status)
        .where(Message.id == message_id)
        .with_for_update()
    ).one()
    if message.status != MessageStatus.DISPATCHED:
        return False
    made = message.attempts_made if counts_as_attempt else message.attempts_made - 1
    if made < message.attempts_allowed:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(status=MessageStatus.QUEUED, due_at=now, last_error=error, attempts_made=made)
        )
        return True
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(status=MessageStatus.FAILED, finished_at=now, last_error=error, attempts_made=made)
    )
    return False


def _withdraw(session: Session, outbox_id: int, *still) -> bool:
    """Remove a message from Gammu's outbox if the conditions ``still`` hold
    at the moment of the DELETE (a daemon racing for the row either gets it
    or does not); False if it no longer could be taken."""
    if session.execute(delete(Outbox).where(Outbox.id == outbox_id, *still)).rowcount != 1:
        return False
    session.execute(delete(OutboxMultipart).where(OutboxMultipart.id == outbox_id))
    return True


def _untouched():
    """Outbox rows gammu-smsd has never leased nor retried."""
    return (
        Outbox.sending_timeout < func.now(),
        Outbox.sending_timeout <= Outbox.sending_datetime,
        func.coalesce(Outbox.retries, 0) == 0,
    )


def take_back(session: Session, sim_ids: list[int], *, now: datetime | None = None) -> int:
    """Requeue messages waiting in the outboxes of these (dead) SIMs.

    Only rows gammu-smsd never touched are taken: dispatch writes
    ``SendingTimeOut`` equal to ``SendingDateTime``, and the daemon's lease
    moves it forward, so ``SendingTimeOut <= SendingDateTime`` with
    ``Retries = 0`` means it never picked the row up. A leased row may
    already be on the air (the daemon writes ``sentitems`` only after the
    modem answers, and a stalled daemon may answer late), so it is left to
    the daemon: sending a text twice is worse than sending it late. The
    delete repeats the condition, so a daemon that wakes up at the same
    moment either gets the row or does not. A take-back is not a failed
    attempt: the message never left.
    """
    if not sim_ids:
        return 0
    now = now or utcnow()
    candidates = session.execute(
        select(*_ATTEMPT)
        .join(Outbox, Outbox.id == MessageAttempt.outbox_id)
        .where(
            MessageAttempt.outcome == AttemptOutcome.PENDING,
            MessageAttempt.sim_id.in_(sim_ids),
            *_untouched(),
            ~exists().where(SentItem.id == MessageAttempt.outbox_id),
        )
        .with_for_update(of=MessageAttempt, skip_locked=True)
    ).all()
    names = dict(session.execute(select(Sim.id, Sim.name).where(Sim.id.in_(sim_ids))).all())
    taken = 0
    releases: dict = defaultdict(int)
    for attempt in candidates:
        if not _withdraw(session, attempt.outbox_id, *_untouched()):
            continue
        error = f"taken back from SIM {names.get(attempt.sim_id)}: its heartbeat stopped"
        session.execute(
            update(MessageAttempt)
            .where(MessageAttempt.id == attempt.id)
            .values(outcome=AttemptOutcome.TAKEN_BACK, finished_at=now, error=error)
        )
        releases[(attempt.sim_id, attempt.period_start)] -= attempt.parts
        _requeue_or_fail(session, attempt.message_id, now, error, counts_as_attempt=False)
        taken += 1
    usage.change(session, releases)
    return taken


def abandon(session: Session, *, after_seconds: float, now: datetime | None = None) -> int:
    """Finish attempts stuck on a SIM that has been dead for ``after_seconds``
    with its lease expired: the daemon took the row and never came back.
    Whether the text went out cannot be known, so the message ends
    ``failed`` (never requeued: a second copy is worse), with parts that
    did not go out released; an operator may retry it. Caller commits."""
    now = now or utcnow()
    dead_before = now - timedelta(seconds=after_seconds)
    ok = func.coalesce(
        select(func.count())
        .where(SentItem.id == MessageAttempt.outbox_id, SentItem.status.in_(SENT_STATUSES))
        .scalar_subquery(),
        0,
    )
    stuck = session.execute(
        select(*_ATTEMPT, ok.label("ok"), Sim.name)
        .join(Sim, Sim.id == MessageAttempt.sim_id)
        .join(Outbox, Outbox.id == MessageAttempt.outbox_id)
        .where(
            MessageAttempt.outcome == AttemptOutcome.PENDING,
            Sim.healthy.is_(False),
            Sim.health_changed_at <= dead_before,
            Outbox.sending_timeout < func.now(),
        )
        .with_for_update(of=MessageAttempt, skip_locked=True)
    ).all()
    releases: dict = defaultdict(int)
    failed_ids = []
    for attempt in stuck:
        if not _withdraw(session, attempt.outbox_id, Outbox.sending_timeout < func.now()):
            continue
        error = (
            f"SIM {attempt.name} stopped while sending and did not come back; "
            f"{attempt.ok} of {attempt.parts} parts confirmed, the rest may have gone out"
        )
        session.execute(
            update(MessageAttempt)
            .where(MessageAttempt.id == attempt.id)
            .values(outcome=AttemptOutcome.ERROR, finished_at=now, error=error[:255])
        )
        releases[(attempt.sim_id, attempt.period_start)] -= attempt.parts - attempt.ok
        if session.execute(
            update(Message)
            .where(Message.id == attempt.message_id, Message.status == MessageStatus.DISPATCHED)
            .values(status=MessageStatus.FAILED, finished_at=now, last_error=error[:255])
        ).rowcount:
            failed_ids.append(attempt.message_id)
    usage.change(session, releases)
    session.flush()
    webhooks.message_event(session, failed_ids, "sms:failed", now=now)
    return len(failed_ids)
