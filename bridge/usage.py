"""A SIM's month: which SIMs a user may use, the billing period, the parts
used in it, and reserving and releasing them.

Limits count SMS parts, as operators bill. A SIM's usage row for its
current period is locked (``lock_month``) before dispatch decides where a
text goes, so several dispatchers never overshoot a limit; every change
(``change``) takes those row locks in SIM order, so two jobs changing the
same SIMs wait for each other instead of deadlocking. Dispatch reserves the
parts of a text when it hands it to a SIM; harvest and take-back release
those that never went out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import ColumnElement, func, or_, select, tuple_, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.orm import Session

from .models import Sim, SimUsage

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
        # Once per SIM and month. Only here: INSERT IGNORE on an existing row
        # takes a shared lock, and two dispatchers upgrading theirs deadlock.
        session.execute(
            mysql_insert(SimUsage).prefix_with("IGNORE"),
            [{"sim_id": sim_id, "period_start": start, "parts": 0} for sim_id, start in missing],
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
