"""SIM provisioning and the facts about SIMs that every screen shows."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from . import outbox, smsd, usage
from .clock import iso_utc, utcnow
from .config import Settings
from .errors import AcceptError, UserError
from .models import Outbox, Phone, Sim, User
from .phones import normalise_number
from .users import get_user

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
    """Enabling also clears a stall: the operator says the SIM works again."""
    sim = get_sim(session, name)
    sim.enabled = enabled
    if enabled and sim.stalled_since is not None:
        sim.stalled_since = sim.stall_reason = None
        sim.watch_since = utcnow()


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


def waiting_in_outbox(session: Session, names: list[str]) -> dict[str, int]:
    """Rows each SIM's daemon has still to send, by SIM name (absent: none)."""
    rows = session.execute(
        select(Outbox.sender_id, func.count()).where(Outbox.sender_id.in_(names)).group_by(Outbox.sender_id)
    )
    return {name: count for name, count in rows if name is not None}


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
                "owner": owners.get(sim.owner_id) if sim.owner_id is not None else None,
                "simulated": sim.simulated,
                "delivery_report": sim.delivery_report,
                **dict(zip(("state", "state_reason"), state_of(sim), strict=True)),
                "stalled_since": iso_utc(sim.stalled_since),
                "watchdog": {
                    "stall_after": sim.stall_after,
                    "stall_errors": sim.stall_errors,
                    "restart_stalled": sim.restart_stalled,
                    "restarts": sim.restarts,
                    "restarted_at": iso_utc(sim.restarted_at),
                },
            }
        )
    return result


def state_of(sim: Sim) -> tuple[str, str | None]:
    """One word for what a SIM is doing, and why when it is not working:
    `disabled`, `dead` (no heartbeat), `stalled` (heartbeat, no sending) or
    `healthy` — the first that applies."""
    if not sim.enabled:
        return "disabled", "disabled by an operator"
    if not sim.healthy:
        return "dead", "its daemon's heartbeat stopped (or it never started)"
    if sim.stalled_since is not None:
        return "stalled", sim.stall_reason
    return "healthy", None


def prepare_start(session: Session, settings: Settings, name: str) -> int:
    """Before NAME's daemon starts (none runs): every row it had leased is
    orphaned, and the new daemon would send it again once the lease ran
    out. Settle those by their message's ``on_uncertain`` and rewrite the
    daemon's config; return how many were settled."""
    sim = get_sim(session, name)
    # The config follows the database and the current template.
    smsd.write_config(settings, sim)
    return outbox.settle_uncertain(session, abandon_after=settings.abandon_after, starting=[sim.id])


def start_daemon(sessions: sessionmaker[Session], settings: Settings, name: str) -> int:
    """Start NAME's daemon on this host unless it runs; return its pid."""
    pid = smsd.running_pid(settings, name)
    if pid is not None:
        return pid
    with sessions.begin() as session:
        prepare_start(session, settings, name)
    return smsd.start(settings, name)


def restart_daemon(sessions: sessionmaker[Session], settings: Settings, name: str) -> int:
    smsd.stop(settings, name)
    return start_daemon(sessions, settings, name)


def set_watchdog(
    session: Session,
    name: str,
    *,
    stall_after: int | None = None,
    stall_errors: int | None = None,
    restart_stalled: bool | None = None,
    reset_every: int | None = None,
    hard_reset_every: int | None = None,
    settings: Settings | None = None,
) -> None:
    """Change a SIM's watchdog thresholds and Gammu's preventive resets (the
    resets live in the daemon's config, rewritten when ``settings`` is given)."""
    sim = get_sim(session, name)
    if stall_after is not None:
        if stall_after < 10:
            raise UserError("stall_after must be at least 10 seconds", field="stall_after")
        sim.stall_after = stall_after
    if stall_errors is not None:
        if not 1 <= stall_errors <= 100:
            raise UserError("stall_errors must be between 1 and 100 sends", field="stall_errors")
        sim.stall_errors = stall_errors
    if restart_stalled is not None:
        sim.restart_stalled = restart_stalled
    for field, value in (("reset_every", reset_every), ("hard_reset_every", hard_reset_every)):
        if value is not None:
            if value < 0:
                raise UserError(f"{field} must be 0 (off) or more seconds", field=field)
            setattr(sim, field, value)
    if settings is not None and (reset_every is not None or hard_reset_every is not None):
        session.flush()
        smsd.write_config(settings, sim)
