"""Dispatch: queued messages -> a SIM's outbox, one transaction per batch.

A batch is claimed with ``FOR UPDATE SKIP LOCKED`` so parallel dispatchers
never take the same message, and the usage rows of the candidate SIMs are
locked before the choice is made, so a monthly limit holds however many
dispatchers run. Messages, outbox rows, attempts and usage change together
or not at all.

Pacing: a paced SIM is handed a text only when its windows
(``usage.slot``) have room within ``pacing_lookahead`` seconds, and the
outbox row carries that slot as its ``SendingDateTime``. Quiet hours: a
text of a user with a send window waits for it, unless the text opted out.
Every wait leaves a ``wait_reason`` saying what it waits for and until when.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from .. import encoding, optouts, usage, users, webhooks
from .. import sims as sims_module
from ..clock import iso_utc, utcnow
from ..config import Settings
from ..models import (
    AttemptOutcome,
    Message,
    MessageAttempt,
    MessageStatus,
    Outbox,
    OutboxMultipart,
    Phone,
    Sim,
    table_of,
)

NO_SIM = "no healthy, enabled SIM is available to this user"
NO_CHOSEN_SIM = "the SIM chosen for it is not healthy, enabled and free to take it now"
NO_ROOM = "every SIM available to this user has reached its monthly limit"
NO_PACE = "every SIM available to this user is at a sending limit"


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
    billing_day: int
    used: int
    waiting: int
    pace: usage.Pace
    traffic: usage.Traffic | None  # None: no pacing, nothing to count

    def room(self) -> float:
        return float("inf") if self.limit is None else self.limit - self.used

    def slot(self, parts: int, recipient: str, known: set[tuple[int, str]], now: datetime) -> usage.Slot:
        if self.traffic is None:
            return usage.Slot(now)
        most = self.pace.recipients_per_month
        if most is not None and (self.id, recipient) not in known and self.traffic.recipients >= most:
            next_month = datetime.combine(usage.next_period_start(self.billing_day, now.date()), time())
            return usage.Slot(next_month, f"{most} recipients per month")
        return usage.slot(self.pace, self.traffic, parts, now)


@dataclasses.dataclass(frozen=True)
class _Wait:
    reason: str
    until: datetime | None = None  # when to look again; None: after no_sim_backoff


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
            Message.quiet_hours,
            Message.avoid_sim_id,
            Message.only_sim_id,
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
    opted = optouts.opted_out(session, {(m.user_id, m.recipient) for m in live})
    opted_ids = {m.id for m in live if (m.user_id, m.recipient) in opted and not m.ignore_opt_out}
    _finish(session, list(opted_ids), MessageStatus.OPTED_OUT, now, "recipient opted out")
    result.opted_out = len(opted_ids)
    live = [m for m in live if m.id not in opted_ids]
    if not live:
        return result

    candidates = _lock_candidates(session, now)
    tried = _failed_sims(session, [m.id for m in live])
    windows = users.send_windows(session, {m.user_id for m in live if m.quiet_hours})
    known = usage.known_recipients(
        session,
        [(c.id, c.period) for c in candidates if c.pace.recipients_per_month is not None],
        {m.recipient for m in live},
    )
    lookahead = timedelta(seconds=settings.pacing_lookahead)
    placed: list[tuple[object, _Candidate, tuple[encoding.Part, ...], datetime]] = []
    strangers: list[tuple[int, date, str]] = []
    waiting: dict[tuple[str, datetime], list[int]] = defaultdict(list)
    backoff = now + timedelta(seconds=settings.no_sim_backoff)
    for message in live:
        window = windows.get(message.user_id) if message.quiet_hours else None
        opens = window.opens_at(now) if window else None
        if window and opens:
            shown = iso_utc(_whole_second(opens))
            wait = _Wait(f"quiet hours: texts go out {window.describe()}; held until {shown}", opens)
        else:
            parts = encoding.encode(message.text, flash=message.flash, reference=message.id)
            choice = _pick(
                candidates, message, len(parts), tried.get(message.id, ()), known, window, now, lookahead
            )
            if isinstance(choice, tuple):
                sim, at = choice
                sim.used += len(parts)
                sim.waiting += 1
                if sim.traffic is not None:
                    new = (sim.id, message.recipient) not in known
                    usage.take(sim.pace, sim.traffic, len(parts), at, new)
                    if sim.pace.recipients_per_month is not None and new:
                        known.add((sim.id, message.recipient))
                        strangers.append((sim.id, sim.period, message.recipient))
                placed.append((message, sim, parts, at))
                continue
            wait = choice
        # At least a second on: a wait is never claimed again in the same pass.
        due = backoff if wait.until is None else max(wait.until, now + timedelta(seconds=1))
        if message.expires_at is not None:
            due = min(due, message.expires_at)
        waiting[(wait.reason[:255], due)].append(message.id)

    for (reason, due), ids in waiting.items():
        session.execute(update(Message).where(Message.id.in_(ids)).values(wait_reason=reason, due_at=due))
    usage.note_recipients(session, strangers)
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


_PACE_COLUMNS = (
    Sim.max_per_minute,
    Sim.max_per_hour,
    Sim.max_per_day,
    Sim.max_recipients_per_month,
    Sim.jitter,
)


def _lock_candidates(session: Session, now: datetime) -> list[_Candidate]:
    """Enabled SIMs with a live heartbeat, their usage rows locked."""
    sims = session.execute(
        select(
            Sim.id,
            Sim.name,
            Sim.delivery_report,
            Sim.owner_id,
            Sim.monthly_limit,
            Sim.billing_day,
            *_PACE_COLUMNS,
        )
        .join(Phone, Phone.id == Sim.name)
        .where(
            Sim.enabled.is_(True),
            Sim.stalled_since.is_(None),
            Sim.quarantined_at.is_(None),
            Phone.timeout > func.now(),
        )
        .order_by(Sim.id)
    ).all()
    if not sims:
        return []
    keys = usage.month_keys(sims, now.date())
    used = usage.lock_month(session, keys)
    waiting = sims_module.waiting_in_outbox(session, [s.name for s in sims])
    flows = usage.traffic(session, sims, now)
    return [
        _Candidate(
            s.id,
            s.name,
            s.delivery_report,
            s.owner_id,
            s.monthly_limit,
            start,
            s.billing_day,
            used.get(s.id, 0),
            waiting.get(s.name, 0),
            usage.Pace.of(s),
            flows.get(s.id),
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
    candidates: list[_Candidate],
    message,
    parts: int,
    tried: set[int] | tuple,
    known: set[tuple[int, str]],
    window,
    now: datetime,
    lookahead: timedelta,
) -> tuple[_Candidate, datetime] | _Wait:
    """The SIM for a message and the time it may send it, or why it waits."""
    # An alert about a SIM never leaves through that SIM; an admin's chosen
    # SIM is the only one its message may leave through.
    allowed = [
        c
        for c in candidates
        if usage.may_use(c.owner_id, message.user_id)
        and c.id != message.avoid_sim_id
        and message.only_sim_id in (None, c.id)
    ]
    if not allowed:
        return _Wait(NO_CHOSEN_SIM if message.only_sim_id is not None else NO_SIM)
    with_room = [c for c in allowed if c.room() >= parts]
    if not with_room:
        return _Wait(NO_ROOM)
    ready: list[tuple[datetime, _Candidate]] = []
    later: list[tuple[datetime | None, str, _Candidate]] = []
    for c in with_room:
        slot = c.slot(parts, message.recipient, known, now)
        closed = window.opens_at(slot.at) if window and slot.at else None
        if slot.at is not None and slot.at <= now + lookahead and closed is None:
            ready.append((slot.at, c))
        elif closed is not None:
            later.append((closed, f"quiet hours ({window.describe()})", c))
        else:
            later.append((slot.at, slot.window, c))
    if not ready:
        return _pace_wait(later, now, lookahead)
    fresh = [(at, c) for at, c in ready if c.id not in tried] or ready
    at, sim = min(fresh, key=lambda pair: (pair[0], pair[1].waiting, -pair[1].room(), pair[1].id))
    return sim, at


def _pace_wait(
    later: list[tuple[datetime | None, str, _Candidate]], now: datetime, lookahead: timedelta
) -> _Wait:
    """Wait for the SIM whose window opens first; a SIM full with texts in
    flight opens when it sends them, which is looked at after the backoff."""
    known = [(at, why, c) for at, why, c in later if at is not None]
    if not known:
        at, why, sim = None, later[0][1], later[0][2]
        opens = "once it sends the texts it holds"
    else:
        at, why, sim = min(known, key=lambda item: (item[0], item[2].id))
        opens = f"opens {iso_utc(_whole_second(at))}"
    head = f"SIM {sim.name}" if len(later) == 1 else f"{NO_PACE}; first SIM {sim.name}"
    return _Wait(f"{head}: {why}, {opens}", None if at is None else at - lookahead)


def _whole_second(at: datetime) -> datetime:
    """``at`` rounded up to the second, as it is shown."""
    whole = at.replace(microsecond=0)
    return whole if whole == at else whole + timedelta(seconds=1)


def _not_before(at: datetime, now: datetime) -> datetime:
    """``SendingDateTime`` for a text that may go out at ``at``. Gammu takes
    rows whose SendingDateTime and SendingTimeOut are strictly in the past,
    by the second: a second back means "now", and a later slot is rounded up
    so the row never goes before it."""
    if at <= now:
        return now - timedelta(seconds=1)
    return _whole_second(at) - timedelta(seconds=1)


def _write_outbox(session: Session, placed, now: datetime) -> None:
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
            # Equal, as take-back expects of a row no daemon has leased.
            "SendingDateTime": _not_before(at, now),
            "SendingTimeOut": _not_before(at, now),
        }
        for m, sim, parts, at in placed
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
        for m, _, parts, _ in placed
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
                "send_after": at,
            }
            for m, sim, parts, at in placed
        ],
    )

    reserved: dict[tuple[int, date], int] = defaultdict(int)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for m, sim, parts, _ in placed:
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
