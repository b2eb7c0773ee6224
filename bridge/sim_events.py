"""What happened to a SIM that a person should hear about, stored once
when it happens: the screens list them, and alerts (when they come) read
the same rows. One generic shape: a SIM, a kind, a sentence, a time.

Kinds written so far: ``identity_recorded``, ``identity_changed``,
``identity_restored``, ``duplicate_imsi``, ``modem_changed``,
``card_accepted``, ``removed``, ``balance_low``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import utcnow
from .models import SimEvent


def record(session: Session, sim_id: int, kind: str, detail: str, *, now: datetime | None = None) -> SimEvent:
    """Store one event; the caller commits (with the change it describes)."""
    event = SimEvent(sim_id=sim_id, kind=kind, detail=detail[:1024], created_at=now or utcnow())
    session.add(event)
    return event


def recent(session: Session, sim_id: int, limit: int = 20) -> list[SimEvent]:
    """The SIM's latest events, newest first."""
    return list(
        session.scalars(
            select(SimEvent).where(SimEvent.sim_id == sim_id).order_by(SimEvent.id.desc()).limit(limit)
        )
    )
