"""Dispatch: queued messages -> a SIM's outbox, one transaction per batch.

A batch is claimed with ``FOR UPDATE SKIP LOCKED`` so parallel dispatchers
never take the same message, and the usage rows of the candidate SIMs are
locked before the choice is made, so a monthly limit holds however many
dispatchers run. Messages, outbox rows, attempts and usage change together
or not at all.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from .. import encoding, usage, webhooks
from .. import sims as sims_module
from ..clock import utcnow
from ..config import Settings
from ..models import (
    AttemptOutcome,
    Message,
    MessageAttempt,
    MessageStatus,
    OptOut,
    Outbox,
    OutboxMultipart,
    Phone,
    Sim,
    table_of,
)

NO_SIM = "no healthy, enabled SIM is available to this user"
NO_ROOM = "every SIM available to this user has reached its monthly limit"


@dataclasses.dataclass
class DispatchResult:
    claimed: int = 0
    dispatched: int = 0
    waiting: int = 0
    opted_out: int = 0
    expired: int = 0


@dataclasses.dataclass
class _Candidate:
    id: int
    name: str
    delivery_report: bool
    owner_id: int | None
    limit: int | None
    period: date
    used: int
    waiting: int

    def room(self) -> float:
        return float("inf") if self.limit is None else self.limit - self.used


def dispatch(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    batch: int | None = None,
    only: Collection[int] | None = None,
) -> DispatchResult:
    """One pass: claim up to ``batch`` due messages (``only`` these ids,
    when given) and hand them to SIMs. The caller commits."""
    now = now or utcnow()
    result = DispatchResult()
    claim = (
        select(
            Message.id,
            Message.user_id,
            Message.recipient,
            Message.text,
            Message.flash,
            Message.priority,
            Message.expires_at,
            Message.delivery_report,
            Message.ignore_opt_out,
            Message.avoid_sim_id,
        )
        .where(Message.status == MessageStatus.QUEUED, Message.due_at <= now)
        .order_by(Message.priority.desc(), Message.due_at, Message.id)
        .limit(batch or settings.dispatch_batch)
        .with_for_update(skip_locked=True)
    )
    if only is not None:
        claim = claim.where(Message.id.in_(list(only) or [0]))
    claimed = session.execute(claim).all()
    result.claimed = len(claimed)
    if not claimed:
        return result

    expired = {m.id for m in claimed if m.expires_at is not None and m.expires_at <= now}
    _finish(session, list(expired), MessageStatus.EXPIRED, now, "valid_for passed before a SIM took it")
    result.expired = len(expired)

    live = [m for m in claimed if m.id not in expired]
    opted = (
        set(session.scalars(select(OptOut.phone).where(OptOut.phone.in_({m.recipient for m in live}))))
        if live
        else set()
    )
    opted_ids = {m.id for m in live if m.recipient in opted and not m.ignore_opt_out}
    _finish(session, list(opted_ids), MessageStatus.OPTED_OUT, now, "recipient opted out")
    result.opted_out = len(opted_ids)
    live = [m for m in live if m.id not in opted_ids]
    if not live:
        return result

    candidates = _lock_candidates(session, now)
    tried = _failed_sims(session, [m.id for m in live])
    placed: list[tuple[object, _Candidate, tuple[encoding.Part, ...]]] = []
    waiting: dict[str, list[int]] = defaultdict(list)
    for message in live:
        parts = encoding.encode(message.text, flash=message.flash, reference=message.id)
        sim, reason = _pick(
            candidates, message.user_id, len(parts), tried.get(message.id, ()), message.avoid_sim_id
        )
        if sim is None:
            waiting[reason].append(message.id)
            continue
        sim.used += len(parts)
        sim.waiting += 1
        placed.append((message, sim, parts))

    for reason, ids in waiting.items():
        session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(wait_reason=reason, due_at=now + timedelta(seconds=settings.no_sim_backoff))
        )
    result.waiting = sum(len(ids) for ids in waiting.values())
    if placed:
        _write_outbox(session, placed, now)
    result.dispatched = len(placed)
    return result


def _finish(session: Session, ids: list[int], status: MessageStatus, now: datetime, why: str) -> None:
    if ids:
        session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(status=status, finished_at=now, last_error=why, wait_reason=None)
        )
        # A final state without a text sent is still news to whoever waits for it.
        webhooks.message_event(session, ids, "sms:failed", now=now)


def _lock_candidates(session: Session, now: datetime) -> list[_Candidate]:
    """Enabled SIMs with a live heartbeat, their usage rows locked."""
    sims = session.execute(
        select(Sim.id, Sim.name, Sim.delivery_report, Sim.owner_id, Sim.monthly_limit, Sim.billing_day)
        .join(Phone, Phone.id == Sim.name)
        .where(Sim.enabled.is_(True), Sim.stalled_since.is_(None), Phone.timeout > func.now())
        .order_by(Sim.id)
    ).all()
    if not sims:
        return []
    keys = usage.month_keys(sims, now.date())
    used = usage.lock_month(session, keys)
    waiting = sims_module.waiting_in_outbox(session, [s.name for s in sims])
    return [
        _Candidate(
            s.id,
            s.name,
            s.delivery_report,
            s.owner_id,
            s.monthly_limit,
            start,
            used.get(s.id, 0),
            waiting.get(s.name, 0),
        )
        for s, (_, start) in zip(sims, keys, strict=True)
    ]


def _failed_sims(session: Session, message_ids: list[int]) -> dict[int, set[int]]:
    """SIMs each message already failed on: a retry prefers another one."""
    tried: dict[int, set[int]] = defaultdict(set)
    rows = session.execute(
        select(MessageAttempt.message_id, MessageAttempt.sim_id).where(
            MessageAttempt.message_id.in_(message_ids), MessageAttempt.outcome == AttemptOutcome.ERROR
        )
    ).all()
    for message_id, sim_id in rows:
        tried[message_id].add(sim_id)
    return tried


def _pick(
    candidates: list[_Candidate], user_id: int, parts: int, tried: set[int] | tuple, avoid: int | None = None
) -> tuple[_Candidate | None, str]:
    allowed = [c for c in candidates if usage.may_use(c.owner_id, user_id) and c.id != avoid]
    if not allowed:
        return None, NO_SIM
    with_room = [c for c in allowed if c.room() >= parts]
    if not with_room:
        return None, NO_ROOM
    fresh = [c for c in with_room if c.id not in tried] or with_room
    return min(fresh, key=lambda c: (c.waiting, -c.room(), c.id)), ""


def _write_outbox(session: Session, placed, now: datetime) -> None:
    # Gammu takes rows whose SendingDateTime and SendingTimeOut are strictly
    # in the past; a second back means "now" for a daemon on this DB clock.
    ready = now - timedelta(seconds=1)
    # Core tables with column names, executed as executemany: the compiled
    # statement is cached and batched into multi-row INSERTs, where a
    # values(list) statement would be compiled anew for every batch.
    outbox, multipart, attempts = table_of(Outbox), table_of(OutboxMultipart), table_of(MessageAttempt)
    outbox_rows = [
        {
            "DestinationNumber": m.recipient,
            "Coding": parts[0].coding,
            "UDH": parts[0].udh,
            "Class": parts[0].sms_class,
            "TextDecoded": parts[0].text,
            "MultiPart": "true" if len(parts) > 1 else "false",
            "SenderID": sim.name,
            "CreatorID": str(m.id),
            "Priority": m.priority,
            "DeliveryReport": "yes"
            if (sim.delivery_report if m.delivery_report is None else m.delivery_report)
            else "no",
            "SendingDateTime": ready,
            "SendingTimeOut": ready,
        }
        for m, sim, parts in placed
    ]
    # RETURNING gives each row's Gammu ID with the message id it carries.
    returned = session.execute(insert(outbox).returning(outbox.c.ID, outbox.c.CreatorID), outbox_rows).all()
    outbox_id = {int(creator): outbox_row_id for outbox_row_id, creator in returned}

    more_parts = [
        {
            "ID": outbox_id[m.id],
            "SequencePosition": n,
            "Coding": p.coding,
            "UDH": p.udh,
            "Class": p.sms_class,
            "TextDecoded": p.text,
        }
        for m, _, parts in placed
        for n, p in enumerate(parts[1:], start=2)
    ]
    if more_parts:
        session.execute(insert(multipart), more_parts)
    session.execute(
        insert(attempts),
        [
            {
                "message_id": m.id,
                "sim_id": sim.id,
                "outbox_id": outbox_id[m.id],
                "parts": len(parts),
                "period_start": sim.period,
                "outcome": AttemptOutcome.PENDING,
                "dispatched_at": now,
            }
            for m, sim, parts in placed
        ],
    )

    reserved: dict[tuple[int, date], int] = defaultdict(int)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for m, sim, parts in placed:
        reserved[(sim.id, sim.period)] += len(parts)
        groups[(sim.id, len(parts))].append(m.id)
    usage.change(session, reserved)
    for (sim_id, count), ids in groups.items():
        session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(
                status=MessageStatus.DISPATCHED,
                sim_id=sim_id,
                parts=count,
                attempts_made=Message.attempts_made + 1,
                dispatched_at=now,
                wait_reason=None,
            )
        )
