"""The opt-out lists: numbers that asked not to be texted. Dispatch honours
them on every path; every change is recorded with who, when and why.

Two kinds of list:
- the global list (``opt_outs``): nobody's messages reach its numbers. Fed
  by STOP replies (the number itself asked), by admins and by the CLI;
- a user's own list (``user_opt_outs``): that user's messages do not reach
  its numbers, other users' still do. What a non-admin adds through the API
  goes here, so a user can neither block another user's customers nor learn
  whether a number is on the global list.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from .clock import iso_utc, utcnow
from .db import execute_dml
from .models import OptOut, OptOutEvent, User, UserOptOut
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
    owner: User | None = None,
) -> bool:
    """Add the number to the global list (``owner`` None) or to the
    owner's own; False if it was already there."""
    now = now or utcnow()
    phone, reason = normalise_number(phone, region, field="phone"), _clip(reason)
    if owner is None:
        if session.get(OptOut, phone) is not None:
            return False
        session.add(OptOut(phone=phone, reason=reason, source=source, created_at=now))
    else:
        if session.get(UserOptOut, (owner.id, phone)) is not None:
            return False
        session.add(UserOptOut(user_id=owner.id, phone=phone, reason=reason, created_at=now))
    session.add(
        OptOutEvent(
            phone=phone,
            action="added",
            reason=reason,
            source=source,
            actor=actor,
            created_at=now,
            user_id=owner.id if owner else None,
        )
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
    owner: User | None = None,
) -> bool:
    """Remove the number from the global list (``owner`` None) or from the
    owner's own; False if it was not there."""
    now = now or utcnow()
    phone, reason = normalise_number(phone, region, field="phone"), _clip(reason)
    if owner is None:
        removed = execute_dml(session, delete(OptOut).where(OptOut.phone == phone)).rowcount
    else:
        removed = execute_dml(
            session, delete(UserOptOut).where(UserOptOut.user_id == owner.id, UserOptOut.phone == phone)
        ).rowcount
    if removed == 0:
        return False
    session.add(
        OptOutEvent(
            phone=phone,
            action="removed",
            reason=reason,
            source=source,
            actor=actor,
            created_at=now,
            user_id=owner.id if owner else None,
        )
    )
    session.flush()
    return True


def opted_out(session: Session, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (user id, E.164 number) pairs must not be texted: the number
    is on the global list or on that user's own."""
    pairs = set(pairs)
    if not pairs:
        return set()
    phones = {phone for _, phone in pairs}
    everyone = set(session.scalars(select(OptOut.phone).where(OptOut.phone.in_(phones))))
    own = set(
        session.execute(
            select(UserOptOut.user_id, UserOptOut.phone).where(
                tuple_(UserOptOut.user_id, UserOptOut.phone).in_(list(pairs))
            )
        ).all()
    )
    own_pairs = {(user_id, phone) for user_id, phone in own}
    return {pair for pair in pairs if pair[1] in everyone or pair in own_pairs}


def list_opt_outs(session: Session, *, owner: User | None = None) -> list[dict]:
    """The global list (``owner`` None) or the owner's own."""
    if owner is None:
        rows = session.scalars(select(OptOut).order_by(OptOut.created_at, OptOut.phone))
        return [
            {"phone": o.phone, "reason": o.reason, "source": o.source, "since": iso_utc(o.created_at)}
            for o in rows
        ]
    own = session.scalars(
        select(UserOptOut)
        .where(UserOptOut.user_id == owner.id)
        .order_by(UserOptOut.created_at, UserOptOut.phone)
    )
    return [
        {"phone": o.phone, "reason": o.reason, "source": "api", "since": iso_utc(o.created_at)} for o in own
    ]


def history(session: Session, phone: str | None = None) -> list[OptOutEvent]:
    query = select(OptOutEvent).order_by(OptOutEvent.id)
    if phone:
        query = query.where(OptOutEvent.phone == phone)
    return list(session.scalars(query))
