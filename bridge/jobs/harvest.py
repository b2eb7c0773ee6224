"""Harvest: what gammu-smsd wrote to ``sentitems`` becomes message state;
errors are retried on another SIM while attempts remain; delivery reports
become ``delivered``/``undelivered``. (Taking messages back out of a SIM's
outbox is ``bridge/outbox.py``.)

Like take-back, it starts from pending attempts and locks them (``SKIP
LOCKED``) before the messages they belong to, the same order everywhere, so
parallel workers neither collide nor deadlock.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.orm import Session

from .. import gammu_codes, usage, webhooks
from ..clock import utcnow
from ..db import execute_dml
from ..models import (
    AttemptOutcome,
    Message,
    MessageAttempt,
    MessageStatus,
    Outbox,
    SentItem,
    Sim,
)
from ..outbox import ATTEMPT, ERROR_STATUSES, SENT_STATUSES, requeue_or_fail


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
        select(*ATTEMPT)
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
    changed: dict[str, list[int]] = {"sms:delivered": [], "sms:failed": []}
    for row in rows:
        status = MessageStatus.UNDELIVERED if row.refused else MessageStatus.DELIVERED
        done = execute_dml(
            session,
            update(Message)
            .where(Message.id == row.message_id, Message.status == MessageStatus.SENT)
            .values(
                status=status,
                finished_at=row.at or now,
                delivery_status=row.code,
                last_error="the network reported it undelivered" if row.refused else None,
            ),
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
    # The first part that failed, in Gammu's words and ours (gammu_codes).
    failed = session.execute(
        select(SentItem.sequence_position, SentItem.status)
        .where(
            SentItem.id
            == select(MessageAttempt.outbox_id)
            .where(MessageAttempt.id == verdict.attempt_id)
            .scalar_subquery(),
            SentItem.status.in_(ERROR_STATUSES),
        )
        .order_by(SentItem.sequence_position)
        .limit(1)
    ).first()
    error = f"SIM {sim_name}: gammu-smsd reported a sending error"
    if failed is not None:
        meaning = gammu_codes.status_meaning(failed.status)
        error += f" ({failed.status} on part {failed.sequence_position}: {meaning})"
    session.execute(
        update(MessageAttempt)
        .where(MessageAttempt.id == verdict.attempt_id)
        .values(outcome=AttemptOutcome.ERROR, finished_at=now, error=error)
    )
    return requeue_or_fail(session, verdict.message_id, now, error)
