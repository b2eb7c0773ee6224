"""Health: a SIM is alive while its daemon's heartbeat (``phones.TimeOut``)
is in the future. Dead and stalled SIMs get nothing new (dispatch checks the
same) and their untouched messages are taken back; see ``watchdog`` for
stalls and ``bridge.outbox`` for what a dead daemon's leased rows become."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..models import Phone, Sim
from ..outbox import take_back


@dataclasses.dataclass
class HealthResult:
    healthy: list[str] = dataclasses.field(default_factory=list)
    unhealthy: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    stalled: list[str] = dataclasses.field(default_factory=list)  # newly
    recovered: list[str] = dataclasses.field(default_factory=list)
    taken_back: int = 0
    settled: int = 0  # leased rows of a gone daemon, settled by their on_uncertain
    expired: int = 0
    restarted: list[str] = dataclasses.field(default_factory=list)


def check_health(session: Session, *, now: datetime | None = None) -> HealthResult:
    """Both steps in one transaction (CLI, tests); the worker runs them in
    two, see ``jobs.health_pass``."""
    result = update_health(session, now=now)
    result.taken_back = take_back_dead(session, now=now)
    return result


def take_back_dead(session: Session, *, now: datetime | None = None) -> int:
    """Take back from every SIM whose heartbeat has stopped or that stalled."""
    alive = select(Phone.id).where(Phone.timeout > func.now())
    dead = session.scalars(select(Sim.id).where(Sim.name.not_in(alive))).all()
    taken = take_back(session, list(dead), why="its heartbeat stopped", now=now)
    for sim_id, reason in session.execute(
        select(Sim.id, Sim.stall_reason).where(Sim.stalled_since.is_not(None))
    ):
        taken += take_back(session, [sim_id], why=f"it stalled: {reason}", now=now)
    return taken


def update_health(session: Session, *, now: datetime | None = None) -> HealthResult:
    """Record which SIMs are alive and since when; the caller commits.
    Written as UPDATEs by id, not through loaded objects: a SIM row deleted
    by hand while the pass runs is simply not updated, where an ORM flush
    would fail the whole pass (StaleDataError) and its other SIMs with it."""
    now = now or utcnow()
    alive = set(session.scalars(select(Phone.id).where(Phone.timeout > func.now())))
    result = HealthResult()
    for sim in session.execute(
        select(Sim.id, Sim.name, Sim.healthy, Sim.health_changed_at).order_by(Sim.name)
    ).all():
        healthy = sim.name in alive
        if healthy != sim.healthy or sim.health_changed_at is None:
            session.execute(
                update(Sim).where(Sim.id == sim.id).values(healthy=healthy, health_changed_at=now)
            )
            result.changed.append(sim.name)
        (result.healthy if healthy else result.unhealthy).append(sim.name)
    return result
