"""Health: a SIM is alive while its daemon's heartbeat (``phones.TimeOut``)
is in the future. Dead SIMs get nothing new (dispatch checks the same
heartbeat) and their untaken messages are taken back."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..models import Phone, Sim
from ..outbox import take_back


@dataclasses.dataclass
class HealthResult:
    healthy: list[str] = dataclasses.field(default_factory=list)
    unhealthy: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    taken_back: int = 0
    abandoned: int = 0


def check_health(session: Session, *, now: datetime | None = None) -> HealthResult:
    """Both steps in one transaction (CLI, tests); the worker runs them in
    two, see ``jobs.health_pass``."""
    result = update_health(session, now=now)
    result.taken_back = take_back_dead(session, now=now)
    return result


def take_back_dead(session: Session, *, now: datetime | None = None) -> int:
    """Take back from every SIM whose heartbeat has stopped."""
    alive = select(Phone.id).where(Phone.timeout > func.now())
    dead = session.scalars(select(Sim.id).where(Sim.name.not_in(alive))).all()
    return take_back(session, list(dead), now=now)


def update_health(session: Session, *, now: datetime | None = None) -> HealthResult:
    """Record which SIMs are alive and since when; the caller commits."""
    now = now or utcnow()
    alive = set(session.scalars(select(Phone.id).where(Phone.timeout > func.now())))
    result = HealthResult()
    for sim in session.scalars(select(Sim).order_by(Sim.name)):
        healthy = sim.name in alive
        if healthy != sim.healthy or sim.health_changed_at is None:
            sim.healthy = healthy
            sim.health_changed_at = now
            result.changed.append(sim.name)
        (result.healthy if healthy else result.unhealthy).append(sim.name)
    return result
