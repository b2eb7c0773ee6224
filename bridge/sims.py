"""SIM provisioning and the facts about SIMs that every screen shows."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import smsd, usage
from .clock import iso_utc, utcnow
from .config import Settings
from .errors import AcceptError, UserError
from .models import Outbox, Phone, Sim, User
from .phones import normalise_number
from .users import get_user, wake_waiting

SIM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def add_sim(
    session: Session,
    settings: Settings,
    name: str,
    number: str,
    *,
    device: str | None = None,
    connection: str = "at",
    simulated: bool = False,
    monthly_limit: int | None = None,
    billing_day: int = 1,
    owner: str | None = None,
    delivery_report: bool = False,
) -> Sim:
    """Store the SIM and write its gammu-smsd config; the caller commits."""
    if not SIM_NAME.match(name):
        raise UserError("a SIM name is letters, digits, - and _ (up to 64), starting with a letter or digit")
    if simulated == bool(device):
        raise UserError("give either a device (a real modem) or simulated, not both or neither")
    if not 1 <= billing_day <= 28:
        raise UserError("billing day must be between 1 and 28 (every month has it)")
    if monthly_limit is not None and monthly_limit < 0:
        raise UserError("monthly limit must be 0 or more parts")
    try:
        e164 = normalise_number(number, settings.default_region)
    except AcceptError as exc:
        raise UserError(f"SIM number: {exc.message}") from None
    if session.scalar(select(Sim.id).where(Sim.name == name)) is not None:
        raise UserError(f"SIM {name!r} already exists")
    owner_user = get_user(session, owner) if owner else None
    sim = Sim(
        name=name,
        number=e164,
        device=device,
        connection=None if simulated else connection,
        simulated=simulated,
        monthly_limit=monthly_limit,
        billing_day=billing_day,
        owner_id=owner_user.id if owner_user else None,
        enabled=True,
        delivery_report=delivery_report,
    )
    session.add(sim)
    session.flush()
    smsd.write_config(settings, sim)
    return sim


def get_sim(session: Session, name: str) -> Sim:
    sim = session.scalar(select(Sim).where(Sim.name == name))
    if sim is None:
        raise UserError(f"no SIM {name!r}")
    return sim


def set_enabled(session: Session, name: str, enabled: bool) -> None:
    get_sim(session, name).enabled = enabled


def set_delivery_report(session: Session, name: str, wanted: bool) -> None:
    """The default for messages that do not say whether they want a report."""
    get_sim(session, name).delivery_report = wanted


def set_billing_day(session: Session, name: str, billing_day: int) -> None:
    """A new billing day starts a new usage period from the next pass on."""
    if not 1 <= billing_day <= 28:
        raise UserError("billing day must be between 1 and 28 (every month has it)")
    get_sim(session, name).billing_day = billing_day


def set_owner(session: Session, name: str, owner: str | None) -> None:
    """``owner`` None: the SIM serves every user."""
    get_sim(session, name).owner_id = get_user(session, owner).id if owner else None


def set_limit(session: Session, name: str, monthly_limit: int | None) -> None:
    if monthly_limit is not None and monthly_limit < 0:
        raise UserError("monthly limit must be 0 or more parts")
    get_sim(session, name).monthly_limit = monthly_limit


# The pacing settings `set_pacing` takes, with the most each may be.
PACING = {
    "max_per_minute": 10_000,
    "max_per_hour": 1_000_000,
    "max_per_day": 10_000_000,
    "max_recipients_per_month": 10_000_000,
    "jitter": 3600,
}


def set_pacing(session: Session, name: str, **changes: int | None) -> Sim:
    """Change some of a SIM's ``PACING`` settings: a limit of parts per
    rolling minute/hour/day or of distinct recipients per billing period
    (None: no limit), ``jitter`` in seconds (0: none). Texts that wait are
    looked at again at once."""
    sim = get_sim(session, name)
    for option, value in changes.items():
        most = PACING.get(option)
        if most is None:
            raise UserError(f"no pacing setting {option!r}")
        flag = "--" + option.replace("_", "-")
        if option == "jitter":
            if value is None or not 0 <= value <= most:
                raise UserError(f"{flag}: seconds from 0 to {most}", field=option)
        elif value is not None and not 1 <= value <= most:
            raise UserError(
                f"{flag}: a whole number from 1 to {most}, or none for no limit (to stop a SIM, disable it)",
                field=option,
            )
        setattr(sim, option, value)
    wake_waiting(session)
    return sim


def waiting_in_outbox(session: Session, names: list[str]) -> dict[str, int]:
    """Rows each SIM's daemon has still to send, by SIM name (absent: none)."""
    return dict(
        session.execute(
            select(Outbox.sender_id, func.count())
            .where(Outbox.sender_id.in_(names))
            .group_by(Outbox.sender_id)
        ).all()
    )


def sim_overview(session: Session, *, user: User | None = None, now: datetime | None = None) -> list[dict]:
    """One dict per SIM (only those ``user`` may use, when given)."""
    now = now or utcnow()
    query = select(Sim).order_by(Sim.name)
    if user is not None and not user.is_admin:
        query = query.where(usage.usable_by(user.id))
    sims = session.scalars(query).all()
    if not sims:
        return []
    keys = usage.month_keys(sims, now.date())
    used = usage.parts_used(session, keys)
    waiting = waiting_in_outbox(session, [s.name for s in sims])
    flows = usage.traffic(session, sims, now, every=True)
    phones = {p.id: p for p in session.scalars(select(Phone).where(Phone.id.in_([s.name for s in sims])))}
    owners = dict(session.execute(select(User.id, User.login)).all())
    result = []
    for sim, (_, start) in zip(sims, keys, strict=True):
        phone = phones.get(sim.name)
        result.append(
            {
                "name": sim.name,
                "number": sim.number,
                "enabled": sim.enabled,
                "healthy": sim.healthy,
                "health_changed_at": iso_utc(sim.health_changed_at),
                "signal": phone.signal if phone else None,
                "battery": phone.battery if phone else None,
                "network": phone.net_name if phone else None,
                "parts_used": used.get(sim.id, 0),
                "monthly_limit": sim.monthly_limit,
                "period_start": start.isoformat(),
                "waiting": waiting.get(sim.name, 0),
                "owner": owners.get(sim.owner_id),
                "simulated": sim.simulated,
                "delivery_report": sim.delivery_report,
                "windows": usage.windows_view(usage.Pace.of(sim), flows.get(sim.id), now),
                "max_recipients_per_month": sim.max_recipients_per_month,
                "recipients_this_period": flows[sim.id].recipients
                if sim.max_recipients_per_month is not None
                else None,
                "jitter": sim.jitter,
            }
        )
    return result
