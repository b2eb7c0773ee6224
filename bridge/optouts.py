"""The opt-out list: numbers that asked not to be texted. Dispatch honours
it on every path; every change is recorded with who, when and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .clock import iso_utc, utcnow
from .db import execute_dml
from .models import OptOut, OptOutEvent
from .phones import normalise_number


def _clip(reason: str | None) -> str | None:
    # The audit column holds 255 characters; a longer reason must not make
    # the change (a STOP!) fail.
    return reason[:255] if reason else reason


def opt_out(
    session: Session,
    phone: str,
    *,
    reason: str | None,
    source: str,
    actor: str | None,
    region: str = "RU",
    now: datetime | None = None,
) -> bool:
    """Add the number; False if it was already on the list."""
    now = now or utcnow()
    phone, reason = normalise_number(phone, region, field="phone"), _clip(reason)
    if session.get(OptOut, phone) is not None:
        return False
    session.add(OptOut(phone=phone, reason=reason, source=source, created_at=now))
    session.add(
        OptOutEvent(phone=phone, action="added", reason=reason, source=source, actor=actor, created_at=now)
    )
    session.flush()
    return True


def opt_in(
    session: Session,
    phone: str,
    *,
    reason: str | None,
    source: str,
    actor: str | None,
    region: str = "RU",
    now: datetime | None = None,
) -> bool:
    """Remove the number; False if it was not on the list."""
    now = now or utcnow()
    phone, reason = normalise_number(phone, region, field="phone"), _clip(reason)
    if execute_dml(session, delete(OptOut).where(OptOut.phone == phone)).rowcount == 0:
        return False
    session.add(
        OptOutEvent(phone=phone, action="removed", reason=reason, source=source, actor=actor, created_at=now)
    )
    session.flush()
    return True


def list_opt_outs(session: Session) -> list[dict]:
    return [
        {"phone": o.phone, "reason": o.reason, "source": o.source, "since": iso_utc(o.created_at)}
        for o in session.scalars(select(OptOut).order_by(OptOut.created_at, OptOut.phone))
    ]


def history(session: Session, phone: str | None = None) -> list[OptOutEvent]:
    query = select(OptOutEvent).order_by(OptOutEvent.id)
    if phone:
        query = query.where(OptOutEvent.phone == phone)
    return list(session.scalars(query))
