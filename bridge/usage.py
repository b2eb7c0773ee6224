"""A SIM's month: which SIMs a user may use, the billing period, the parts
used in it, and reserving and releasing them.

Limits count SMS parts, as operators bill. A SIM's usage row for its
current period is locked (``lock_month``) before dispatch decides where a
text goes, so several dispatchers never overshoot a limit; every change
(``change``) takes those row locks in SIM order, so two jobs changing the
same SIMs wait for each other instead of deadlocking. Dispatch reserves the
parts of a text when it hands it to a SIM; harvest and take-back release
those that never went out.

Pacing (``Pace``, ``Traffic``, ``slot``) keeps a SIM within its rolling
minute, hour and day and its distinct recipients per period. A SIM's
traffic is read after its usage row is locked, so it is what the previous
dispatcher committed. Parts handed to a SIM and not yet seen sent (pending
attempts) count in every window, as if they went out at any moment; sent
ones count at the time gammu-smsd sent them. A text is given a slot, the
earliest time all windows have room, written as the outbox row's
``SendingDateTime`` (gammu-smsd never sends a row before it). So however
late the daemon sends, no window ever holds more than its limit: every part
sent in a window was counted when the last of them was placed."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, tuple_, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.orm import Session

from .models import AttemptOutcome, MessageAttempt, Outbox, SentItem, Sim, SimRecipient, SimUsage

MonthKey = tuple[int, date]  # (sim id, first day of its billing period)


def may_use(owner_id: int | None, user_id: int) -> bool:
    """A SIM without an owner serves everyone; an owned one only its owner."""
    return owner_id is None or owner_id == user_id


def usable_by(user_id) -> ColumnElement[bool]:
    """``may_use`` as a SQL condition on ``Sim`` (``user_id`` may be a bind parameter)."""
    return or_(Sim.owner_id.is_(None), Sim.owner_id == user_id)


def period_start(billing_day: int, today: date) -> date:
    """First day of the billing month that contains ``today``."""
    if today.day >= billing_day:
        return today.replace(day=billing_day)
    last_month = today.replace(day=1) - timedelta(days=1)
    return last_month.replace(day=billing_day)


def next_period_start(billing_day: int, today: date) -> date:
    """First day of the billing month after the one that contains ``today``."""
    start = period_start(billing_day, today)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=billing_day)


def month_keys(sims: Iterable, today: date) -> list[MonthKey]:
    """The current period of each SIM (anything with ``id`` and ``billing_day``)."""
    return [(sim.id, period_start(sim.billing_day, today)) for sim in sims]


def parts_used(session: Session, keys: list[MonthKey]) -> dict[int, int]:
    """Parts used per SIM in the given periods, read without locking (screens)."""
    if not keys:
        return {}
    return dict(
        session.execute(
            select(SimUsage.sim_id, SimUsage.parts).where(
                tuple_(SimUsage.sim_id, SimUsage.period_start).in_(keys)
            )
        ).all()
    )


def lock_month(session: Session, keys: list[MonthKey]) -> dict[int, int]:
    """Parts used per SIM, the usage rows locked (and made, the first time
    in a period) until the caller's transaction ends."""
    used = _lock(session, keys)
    missing = [(sim_id, start) for sim_id, start in keys if sim_id not in used]
    if missing:
        # Once per SIM and month, in SIM order. Not INSERT IGNORE: on a row
        # another dispatcher has just made it takes a shared lock, and two
        # dispatchers upgrading theirs to the lock below deadlock. ON
        # DUPLICATE KEY UPDATE takes the exclusive lock at once: they queue.
        session.execute(
            mysql_insert(SimUsage).on_duplicate_key_update(parts=SimUsage.parts),
            [{"sim_id": sim_id, "period_start": start, "parts": 0} for sim_id, start in sorted(missing)],
        )
        used = _lock(session, keys)
    return used


def _lock(session: Session, keys: list[MonthKey]) -> dict[int, int]:
    return dict(
        session.execute(
            select(SimUsage.sim_id, SimUsage.parts)
            .where(tuple_(SimUsage.sim_id, SimUsage.period_start).in_(keys))
            .order_by(SimUsage.sim_id)
            .with_for_update()
        ).all()
    )


def change(session: Session, changes: dict[MonthKey, int]) -> None:
    """Reserve (positive) or release (negative) parts of SIMs' months, in SIM order."""
    for (sim_id, start), parts in sorted(changes.items()):
        if parts:
            session.execute(
                update(SimUsage)
                .where(SimUsage.sim_id == sim_id, SimUsage.period_start == start)
                .values(parts=func.greatest(SimUsage.parts + parts, 0))
            )


# --------------------------------------------------------------------------
# Pacing

# (name, seconds, Pace field): the rolling windows a SIM may be limited in.
WINDOWS = (("minute", 60, "per_minute"), ("hour", 3600, "per_hour"), ("day", 86400, "per_day"))
# How finely gammu-smsd records when it sent (SendingDateTime, whole seconds).
RECORDED_TO = timedelta(seconds=1)
# Sends counted per window for a SIM: done (sent, or failed on the air) ones.
_COUNTED = (AttemptOutcome.SENT, AttemptOutcome.ERROR)


@dataclasses.dataclass(frozen=True)
class Pace:
    """A SIM's limits besides its month (None: no limit). ``jitter``: a
    random 0..jitter seconds between two of its texts. A per-minute limit
    also spaces the texts evenly (60/limit seconds per part)."""

    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None
    recipients_per_month: int | None = None
    jitter: int = 0

    @classmethod
    def of(cls, sim) -> Pace:
        """From anything with the ``Sim`` columns (a row or the model)."""
        return cls(
            sim.max_per_minute,
            sim.max_per_hour,
            sim.max_per_day,
            sim.max_recipients_per_month,
            sim.jitter or 0,
        )

    def paced(self) -> bool:
        return any((self.per_minute, self.per_hour, self.per_day, self.jitter))

    def gap(self, parts: int) -> float:
        """Seconds a text of ``parts`` occupies before the next may start."""
        return parts * 60 / self.per_minute if self.per_minute else 0.0


@dataclasses.dataclass
class Traffic:
    """What a SIM has in flight and has sent lately (as of its locked usage row)."""

    in_flight: int = 0  # parts handed over and not yet seen sent: they may go any moment
    sent: list[tuple[datetime, int]] = dataclasses.field(default_factory=list)  # (when, parts), oldest first
    next_free: datetime | None = None  # the earliest slot its spacing and jitter allow
    recipients: int = 0  # distinct numbers this billing period

    def used(self, seconds: int, now: datetime) -> int:
        """Parts counted in the window of ``seconds`` that ends at ``now``."""
        since = now - timedelta(seconds=seconds)
        return self.in_flight + sum(parts for at, parts in self.sent if at > since)


@dataclasses.dataclass(frozen=True)
class Slot:
    """When a SIM may send a text: ``at`` (naive UTC), or never while
    ``at`` is None; ``window`` names what decided a wait."""

    at: datetime | None
    window: str = ""


def slot(pace: Pace, traffic: Traffic, parts: int, now: datetime) -> Slot:
    """The earliest time from ``now`` at which ``parts`` more fit every
    window of the SIM and its spacing."""
    at, why = now, ""
    for name, seconds, field in WINDOWS:
        limit = getattr(pace, field)
        if limit is None:
            continue
        room = limit - traffic.in_flight - parts  # parts already sent that may stay in the window
        if room < 0:
            # Even with nothing sent before it, the window cannot take it yet.
            reason = _per(limit, name) + (f" (a text of {parts})" if parts > limit else "")
            return Slot(None, reason)
        opens = _opens(traffic.sent, seconds, room, now)
        if opens > at:
            at, why = opens, _per(limit, name)
    if traffic.next_free is not None and traffic.next_free > at:
        at, why = traffic.next_free, "spacing between texts"
    return Slot(at, why)


def _per(limit: int, window: str) -> str:
    return f"{limit} part{'s' if limit != 1 else ''} per {window}"


def _opens(sent: list[tuple[datetime, int]], seconds: int, room: int, now: datetime) -> datetime:
    """When no more than ``room`` of the ``sent`` parts are left in the
    window of ``seconds`` that ends then (the oldest leave it first). A send
    stays in it a second longer than the window: gammu-smsd records the
    second it sent in (rounded down), so it may have gone up to a second
    later, and the window holds in real time, not only in its records."""
    length = timedelta(seconds=seconds) + RECORDED_TO
    inside = [(at, parts) for at, parts in sent if at > now - length]
    total = sum(parts for _, parts in inside)
    for at, parts in inside:
        if total <= room:
            break
        total -= parts
        if total <= room:
            return at + length
    return now


def take(pace: Pace, traffic: Traffic, parts: int, at: datetime, new_recipient: bool) -> None:
    """Count a text placed at ``at`` (in memory, for the rest of the batch)."""
    traffic.in_flight += parts
    traffic.recipients += int(new_recipient)
    if pace.paced():
        traffic.next_free = at + timedelta(seconds=pace.gap(parts) + random.uniform(0, pace.jitter))


def traffic(
    session: Session, sims: Sequence[Any], now: datetime, *, every: bool = False
) -> dict[int, Traffic]:
    """Traffic of the paced ones of ``sims`` (rows with ``id``, ``billing_day``
    and the pacing columns; ``every``: of all, for screens). Dispatch reads it
    after their usage rows are locked."""
    paces = {sim.id: Pace.of(sim) for sim in sims}
    paced = [sim_id for sim_id, pace in paces.items() if every or pace.paced()]
    counted = [sim.id for sim in sims if every or paces[sim.id].recipients_per_month is not None]
    found: dict[int, Traffic] = {sim_id: Traffic() for sim_id in {*paced, *counted}}
    if paced:
        longest = max(
            [seconds for _, seconds, field in WINDOWS if any(getattr(paces[i], field) for i in paced)] or [60]
        )
        done = session.execute(
            select(MessageAttempt.sim_id, MessageAttempt.finished_at, func.sum(MessageAttempt.parts))
            .where(
                MessageAttempt.sim_id.in_(paced),
                MessageAttempt.finished_at > now - timedelta(seconds=longest) - RECORDED_TO,
                MessageAttempt.outcome.in_(_COUNTED),
            )
            .group_by(MessageAttempt.sim_id, MessageAttempt.finished_at)
        ).all()
        recent: list[tuple[int, datetime, int]] = [
            (sim_id, at, int(parts)) for sim_id, at, parts in done if at
        ]
        # Pending attempts, in one statement (one snapshot) with their outbox
        # row and what gammu-smsd wrote to sentitems: a row gone from the
        # outbox with its sentitems written was sent then, before harvest
        # says so; anything else is in flight.
        sent_at = (
            select(func.max(SentItem.sending_datetime))
            .where(SentItem.id == MessageAttempt.outbox_id)
            .scalar_subquery()
        )
        flight = session.execute(
            select(
                MessageAttempt.sim_id,
                MessageAttempt.parts,
                MessageAttempt.send_after,
                Outbox.id.label("queued"),
                Outbox.sending_datetime,
                sent_at.label("sent_at"),
            )
            .outerjoin(Outbox, Outbox.id == MessageAttempt.outbox_id)
            .where(MessageAttempt.sim_id.in_(paced), MessageAttempt.outcome == AttemptOutcome.PENDING)
        ).all()
        last: dict[int, datetime] = {}
        for row in flight:
            if row.queued is None and row.sent_at is not None:
                recent.append((row.sim_id, row.sent_at, row.parts))
                continue
            found[row.sim_id].in_flight += row.parts
            # Its slot; else Gammu sends a row after its SendingDateTime; a
            # row gone from the outbox went at the latest now.
            due = row.send_after or (
                now if row.queued is None else row.sending_datetime + timedelta(seconds=1)
            )
            end = due + timedelta(seconds=paces[row.sim_id].gap(row.parts))
            last[row.sim_id] = max(last.get(row.sim_id, end), end)
        for sim_id, at, parts in sorted(recent):
            found[sim_id].sent.append((at, parts))
            end = at + timedelta(seconds=paces[sim_id].gap(parts))
            last[sim_id] = max(last.get(sim_id, end), end)
        for sim_id, end in last.items():
            found[sim_id].next_free = end + timedelta(seconds=random.uniform(0, paces[sim_id].jitter))
    if counted:
        keys = month_keys([sim for sim in sims if sim.id in counted], now.date())
        for sim_id, count in session.execute(
            select(SimRecipient.sim_id, func.count())
            .where(tuple_(SimRecipient.sim_id, SimRecipient.period_start).in_(keys))
            .group_by(SimRecipient.sim_id)
        ).all():
            found[sim_id].recipients = count
    return found


def known_recipients(session: Session, keys: list[MonthKey], numbers: Iterable[str]) -> set[tuple[int, str]]:
    """(sim id, number) pairs among ``numbers`` these SIMs already texted in these periods."""
    numbers = set(numbers)
    if not keys or not numbers:
        return set()
    return {
        (sim_id, number)
        for sim_id, number in session.execute(
            select(SimRecipient.sim_id, SimRecipient.recipient).where(
                tuple_(SimRecipient.sim_id, SimRecipient.period_start).in_(keys),
                SimRecipient.recipient.in_(numbers),
            )
        ).all()
    }


def note_recipients(session: Session, rows: list[tuple[int, date, str]]) -> None:
    """Remember (sim id, period, number): the SIM's usage row is locked by the caller."""
    if rows:
        session.execute(
            mysql_insert(SimRecipient).prefix_with("IGNORE"),
            [{"sim_id": s, "period_start": p, "recipient": r} for s, p, r in sorted(set(rows))],
        )


def windows_view(pace: Pace, traffic: Traffic | None, now: datetime) -> list[dict]:
    """Each window's limit and the parts counted in it now, for screens."""
    seen = traffic or Traffic()
    return [
        {"window": name, "limit": getattr(pace, field), "used": seen.used(seconds, now)}
        for name, seconds, field in WINDOWS
    ]
