"""Gammu's outbox seen from the bridge: taking a message back out of a SIM's
hands, and settling the rows whose fate no one can know. Used by the passes
(health: dead and stalled SIMs; identity: quarantined ones), by starting a
daemon and by ``sims.remove_sim``, which is why it sits in the domain.

A row gammu-smsd never touched is movable: dispatch writes
``SendingTimeOut`` equal to ``SendingDateTime``; the daemon's lease (its
``refresh_send_status`` query) moves it forward, and ``UpdatedInDB`` says
when. An untouched row can be withdrawn and sent through another SIM
(``take_back``) or, once the message's ``valid_for`` has passed, ended
``expired`` instead of going out late (``expire_untouched``).

A leased row may already be on the air until ``sentitems`` says otherwise.
It is *uncertain* once the daemon that leased it is gone: its heartbeat
stopped and the lease has been over for ``abandon_after`` seconds, or the
daemon (re)connected to its modem after the lease (``phones.InsertIntoDB``
is later than the row's ``UpdatedInDB``), or no daemon runs and one is
about to start. Left alone, the next daemon would send it again when the
lease runs out — a second copy nobody sees. So it is withdrawn and the
message's own policy decides (``settle_uncertain``): ``on_uncertain="fail"``
(at most once) ends it ``failed``, ``"resend"`` (at least once) queues it
again. Either way its timeline says it may have gone out.

Every withdrawal is a DELETE that repeats its condition, so a daemon racing
for the same row either gets it or does not; never both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, exists, false, func, or_, select, update
from sqlalchemy.orm import Session

from . import usage, webhooks
from .clock import utcnow
from .db import execute_dml
from .models import (
    AttemptOutcome,
    Message,
    MessageAttempt,
    MessageStatus,
    OnUncertain,
    Outbox,
    OutboxMultipart,
    Phone,
    SentItem,
    Sim,
)
from .usage import MonthKey

SENT_STATUSES = (
    "SendingOK",
    "SendingOKNoReport",
    "DeliveryOK",
    "DeliveryFailed",
    "DeliveryPending",
    "DeliveryUnknown",
)
ERROR_STATUSES = ("SendingError", "Error")
# What finishing, taking back or settling an attempt needs to know of it.
ATTEMPT = (
    MessageAttempt.id,
    MessageAttempt.message_id,
    MessageAttempt.sim_id,
    MessageAttempt.parts,
    MessageAttempt.period_start,
    MessageAttempt.outbox_id,
)


def untouched() -> tuple[ColumnElement[bool], ...]:
    """Outbox rows gammu-smsd has never leased nor retried."""
    return (
        Outbox.sending_timeout < func.now(),
        Outbox.sending_timeout <= Outbox.sending_datetime,
        func.coalesce(Outbox.retries, 0) == 0,
    )


def touched() -> ColumnElement[bool]:
    """Outbox rows a daemon has leased or retried: possibly on the air."""
    return or_(Outbox.sending_timeout > Outbox.sending_datetime, func.coalesce(Outbox.retries, 0) > 0)


def withdraw(session: Session, outbox_id: int, *still: ColumnElement[bool]) -> bool:
    """Remove a message from Gammu's outbox if the conditions ``still`` hold
    at the moment of the DELETE; False if it could no longer be taken."""
    if execute_dml(session, delete(Outbox).where(Outbox.id == outbox_id, *still)).rowcount != 1:
        return False
    session.execute(delete(OutboxMultipart).where(OutboxMultipart.id == outbox_id))
    return True


def requeue_or_fail(
    session: Session, message_id: int, now: datetime, error: str, counts_as_attempt: bool = True
) -> bool:
    """After an attempt ended without the text: queue the message again while
    attempts remain (True), else fail it (False). An attempt that never
    reached the air (``counts_as_attempt=False``) gives its try back."""
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


def take_back(session: Session, sim_ids: Sequence[int], *, why: str, now: datetime | None = None) -> int:
    """Requeue the messages waiting untouched in these SIMs' outboxes (their
    daemon died or stalled: ``why`` says which, for the timeline). A
    take-back is not a failed attempt: the message never left."""
    if not sim_ids:
        return 0
    now = now or utcnow()
    candidates = session.execute(
        select(*ATTEMPT, Sim.name)
        .join(Outbox, Outbox.id == MessageAttempt.outbox_id)
        .join(Sim, Sim.id == MessageAttempt.sim_id)
        .where(
            MessageAttempt.outcome == AttemptOutcome.PENDING,
            MessageAttempt.sim_id.in_(sim_ids),
            *untouched(),
            ~exists().where(SentItem.id == MessageAttempt.outbox_id),
        )
        .with_for_update(of=MessageAttempt, skip_locked=True)
    ).all()
    taken = 0
    releases: dict[MonthKey, int] = defaultdict(int)
    for attempt in candidates:
        if not withdraw(session, attempt.outbox_id, *untouched()):
            continue
        error = f"taken back from SIM {attempt.name}: {why}"[:255]
        _finish_attempt(session, attempt.id, AttemptOutcome.TAKEN_BACK, error, now)
        releases[(attempt.sim_id, attempt.period_start)] -= attempt.parts
        requeue_or_fail(session, attempt.message_id, now, error, counts_as_attempt=False)
        taken += 1
    usage.change(session, releases)
    return taken


def expire_untouched(session: Session, *, now: datetime | None = None) -> int:
    """End ``expired`` the messages whose ``valid_for`` has passed while they
    wait untouched in a SIM's outbox: late is worse than not at all for
    them, and the daemon does not know their validity."""
    now = now or utcnow()
    overdue = session.execute(
        select(*ATTEMPT)
        .join(Message, Message.id == MessageAttempt.message_id)
        .join(Outbox, Outbox.id == MessageAttempt.outbox_id)
        .where(
            MessageAttempt.outcome == AttemptOutcome.PENDING,
            Message.expires_at <= now,
            *untouched(),
            ~exists().where(SentItem.id == MessageAttempt.outbox_id),
        )
        .with_for_update(of=MessageAttempt, skip_locked=True)
    ).all()
    expired = []
    releases: dict[MonthKey, int] = defaultdict(int)
    why = "valid_for passed before the SIM sent it; taken out of its outbox"
    for attempt in overdue:
        if not withdraw(session, attempt.outbox_id, *untouched()):
            continue
        _finish_attempt(session, attempt.id, AttemptOutcome.TAKEN_BACK, why, now)
        releases[(attempt.sim_id, attempt.period_start)] -= attempt.parts
        if _end(session, attempt.message_id, MessageStatus.EXPIRED, why, now):
            expired.append(attempt.message_id)
    usage.change(session, releases)
    session.flush()
    webhooks.message_event(session, expired, "sms:failed", now=now)
    return len(expired)


def settle_uncertain(
    session: Session,
    *,
    abandon_after: float,
    starting: Sequence[int] = (),
    now: datetime | None = None,
) -> int:
    """Withdraw every leased row whose daemon is gone and apply its message's
    ``on_uncertain`` policy. ``starting``: SIMs whose daemon is about to be
    started (none runs), so every row they had leased is orphaned."""
    now = now or utcnow()
    confirmed = func.coalesce(
        select(func.count())
        .where(SentItem.id == MessageAttempt.outbox_id, SentItem.status.in_(SENT_STATUSES))
        .scalar_subquery(),
        0,
    )
    reconnected = Phone.insert_into_db > Outbox.updated_in_db
    heartbeat_gone = or_(Phone.id.is_(None), Phone.timeout < func.now())
    # Compared with the database's clock, which wrote the lease.
    db_now = session.scalar(select(func.now())) or now
    lease_long_over = Outbox.sending_timeout < db_now - timedelta(seconds=abandon_after)
    orphaned = or_(
        MessageAttempt.sim_id.in_(starting) if starting else false(),
        reconnected,
        heartbeat_gone & lease_long_over,
    )
    rows = session.execute(
        select(
            *ATTEMPT,
            confirmed.label("confirmed"),
            Sim.name,
            Message.on_uncertain,
            Outbox.updated_in_db,
            reconnected.label("reconnected"),
        )
        .join(Sim, Sim.id == MessageAttempt.sim_id)
        .join(Message, Message.id == MessageAttempt.message_id)
        .join(Outbox, Outbox.id == MessageAttempt.outbox_id)
        .outerjoin(Phone, Phone.id == Sim.name)
        .where(MessageAttempt.outcome == AttemptOutcome.PENDING, touched(), orphaned)
        .with_for_update(of=MessageAttempt, skip_locked=True)
    ).all()
    failed = []
    releases: dict[MonthKey, int] = defaultdict(int)
    for row in rows:
        # Unchanged since we looked: no daemon has leased it again meanwhile.
        if not withdraw(session, row.outbox_id, Outbox.updated_in_db == row.updated_in_db):
            continue
        gone = (
            "its daemon restarted"
            if row.reconnected
            else "its daemon was about to start"
            if row.sim_id in starting
            else "its daemon stopped"
        )
        resend = row.on_uncertain == OnUncertain.RESEND
        error = (
            f"may have gone out: SIM {row.name} had it when {gone} "
            f"({row.confirmed} of {row.parts} parts confirmed); "
            + ("sent again (on_uncertain=resend)" if resend else "not sent again (on_uncertain=fail)")
        )[:255]
        _finish_attempt(session, row.id, AttemptOutcome.UNCERTAIN, error, now)
        releases[(row.sim_id, row.period_start)] -= row.parts - row.confirmed
        if resend:
            requeue_or_fail(session, row.message_id, now, error, counts_as_attempt=False)
        elif _end(session, row.message_id, MessageStatus.FAILED, error, now):
            failed.append(row.message_id)
    usage.change(session, releases)
    session.flush()
    webhooks.message_event(session, failed, "sms:failed", now=now)
    return len(rows)


def _finish_attempt(
    session: Session, attempt_id: int, outcome: AttemptOutcome, error: str, now: datetime
) -> None:
    session.execute(
        update(MessageAttempt)
        .where(MessageAttempt.id == attempt_id)
        .values(outcome=outcome, finished_at=now, error=error[:255])
    )


def _end(session: Session, message_id: int, status: MessageStatus, why: str, now: datetime) -> bool:
    """A final state for a dispatched message; False if something else ended it first."""
    return bool(
        execute_dml(
            session,
            update(Message)
            .where(Message.id == message_id, Message.status == MessageStatus.DISPATCHED)
            .values(status=status, finished_at=now, last_error=why[:255]),
        ).rowcount
    )


def waiting_messages(session: Session, sim_id: int) -> tuple[int, int]:
    """Messages in this SIM's outbox: (untouched, started). Untouched ones
    can be taken back; started ones belong to the daemon until it reports."""
    rows = session.execute(
        select(untouched_case().label("untouched"), func.count())
        .select_from(MessageAttempt)
        .join(Outbox, Outbox.id == MessageAttempt.outbox_id)
        .where(MessageAttempt.outcome == AttemptOutcome.PENDING, MessageAttempt.sim_id == sim_id)
        .group_by("untouched")
    ).all()
    counts = {bool(flag): count for flag, count in rows}
    return counts.get(True, 0), counts.get(False, 0)


def untouched_case():
    """1 for an untouched outbox row, else 0 (to count both kinds in one query)."""
    return case((and_(*untouched()), 1), else_=0)
