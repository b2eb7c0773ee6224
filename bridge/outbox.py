"""A SIM's outbox seen from the messages in it: what gammu-smsd has not
touched yet, and taking that back to the queue.

Used by the passes (harvest, health: dead SIMs; identity: quarantined
ones) and by ``sims.remove_sim``, which is why it sits in the domain and
not in ``bridge.jobs``. Only rows the daemon never leased are ever taken:
a leased row may be on the air, and a text sent twice is worse than a text
sent late.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, case, delete, exists, func, select, update
from sqlalchemy.orm import Session

from . import usage
from .clock import utcnow
from .models import (
    AttemptOutcome,
    Message,
    MessageAttempt,
    MessageStatus,
    Outbox,
    OutboxMultipart,
    SentItem,
    Sim,
)

# What finishing, taking back or abandoning an attempt needs to know of it.
ATTEMPT = (
    MessageAttempt.id,
    MessageAttempt.message_id,
    MessageAttempt.sim_id,
    MessageAttempt.parts,
    MessageAttempt.period_start,
    MessageAttempt.outbox_id,
)


def requeue_or_fail(
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


def withdraw(session: Session, outbox_id: int, *still) -> bool:
    """Remove a message from Gammu's outbox if the conditions ``still`` hold
    at the moment of the DELETE (a daemon racing for the row either gets it
    or does not); False if it no longer could be taken."""
    if session.execute(delete(Outbox).where(Outbox.id == outbox_id, *still)).rowcount != 1:
        return False
    session.execute(delete(OutboxMultipart).where(OutboxMultipart.id == outbox_id))
    return True


def untouched():
    """Outbox rows gammu-smsd has never leased nor retried."""
    return (
        Outbox.sending_timeout < func.now(),
        Outbox.sending_timeout <= Outbox.sending_datetime,
        func.coalesce(Outbox.retries, 0) == 0,
    )


def take_back(
    session: Session,
    sim_ids: list[int],
    *,
    now: datetime | None = None,
    why: str = "its heartbeat stopped",
) -> int:
    """Requeue messages waiting in the outboxes of these SIMs (dead,
    quarantined or being removed: ``why`` says which, in each attempt).

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
        select(*ATTEMPT)
        .join(Outbox, Outbox.id == MessageAttempt.outbox_id)
        .where(
            MessageAttempt.outcome == AttemptOutcome.PENDING,
            MessageAttempt.sim_id.in_(sim_ids),
            *untouched(),
            ~exists().where(SentItem.id == MessageAttempt.outbox_id),
        )
        .with_for_update(of=MessageAttempt, skip_locked=True)
    ).all()
    names = dict(session.execute(select(Sim.id, Sim.name).where(Sim.id.in_(sim_ids))).all())
    taken = 0
    releases: dict = defaultdict(int)
    for attempt in candidates:
        if not withdraw(session, attempt.outbox_id, *untouched()):
            continue
        error = f"taken back from SIM {names.get(attempt.sim_id)}: {why}"[:255]
        session.execute(
            update(MessageAttempt)
            .where(MessageAttempt.id == attempt.id)
            .values(outcome=AttemptOutcome.TAKEN_BACK, finished_at=now, error=error)
        )
        releases[(attempt.sim_id, attempt.period_start)] -= attempt.parts
        requeue_or_fail(session, attempt.message_id, now, error, counts_as_attempt=False)
        taken += 1
    usage.change(session, releases)
    return taken


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
