"""SIM provisioning and lifecycle (add, change, quarantine, accept a new
card, remove) and the facts about SIMs that every screen shows.

A SIM's ``state`` is decided in one place, ``sim_state``, for the API,
the CLI, the dashboard and the admin alike. A removed SIM keeps its row
(its messages and attempts point at it in the archive) but is in no list,
gets nothing and can be changed no more."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import balance, outbox, sim_events, smsd, usage
from .clock import iso_utc, utcnow
from .config import Settings
from .errors import AcceptError, UserError
from .models import AttemptOutcome, BalanceCheck, MessageAttempt, Outbox, Phone, Sim, SimUsage, User
from .phones import normalise_number
from .users import get_user, wake_waiting

SIM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Gammu's connection names (at, at115200, blue_at, fbus, dku5fbus, none, …).
CONNECTION = re.compile(r"[a-z0-9_]{1,32}")
MAX_LIMIT = 2**31 - 1  # the column's INT
# In the order they win: a disabled SIM is "disabled" whatever else is true.
STATES = ("disabled", "quarantined", "dead", "stalled", "healthy")
UNSET = object()  # an option not given: leave the setting as it is


def _check_device(device: str | None, connection: str) -> None:
    """A device path and a connection name go into the daemon's config file:
    one line each, an absolute path, no control characters."""
    if device is not None and (
        not device.startswith("/") or len(device) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in device)
    ):
        raise UserError(
            "a device is one absolute path of at most 255 characters, "
            "e.g. /dev/serial/by-id/usb-…-if00-port0",
            field="device",
        )
    if not CONNECTION.fullmatch(connection or ""):
        raise UserError("a Gammu connection name, e.g. at or at115200", field="connection")


def _check_limit(monthly_limit: int | None) -> None:
    if monthly_limit is not None and not 0 <= monthly_limit <= MAX_LIMIT:
        raise UserError(f"monthly limit must be 0 to {MAX_LIMIT} parts", field="monthly_limit")


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
    if not SIM_NAME.fullmatch(name or ""):
        raise UserError(
            "a SIM name is letters, digits, - and _ (up to 64), starting with a letter or digit",
            field="name",
        )
    if simulated == bool(device):
        raise UserError("give either a device (a real modem) or simulated, not both or neither")
    if not simulated:
        _check_device(device, connection)
    if not 1 <= billing_day <= 28:
        raise UserError("billing day must be between 1 and 28 (every month has it)", field="billing_day")
    _check_limit(monthly_limit)
    try:
        e164 = normalise_number(number, settings.default_region)
    except AcceptError as exc:
        raise UserError(f"SIM number: {exc.message}") from None
    existing = session.scalar(select(Sim).where(Sim.name == name))
    if existing is not None and existing.removed_at is not None:
        raise UserError(
            f"SIM {name!r} was removed on {iso_utc(existing.removed_at)} and its history keeps the "
            "name; choose another one"
        )
    if existing is not None:
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
    """A SIM in service (removed ones are history: not found here)."""
    sim = session.scalar(select(Sim).where(Sim.name == name))
    if sim is None:
        raise UserError(f"no SIM {name!r}")
    if sim.removed_at is not None:
        raise UserError(f"SIM {name!r} was removed on {iso_utc(sim.removed_at)}")
    return sim


def sim_state(sim: Sim) -> tuple[str, str | None]:
    """The one state a SIM is shown in, and why, in the order of ``STATES``."""
    if not sim.enabled:
        return "disabled", "disabled by an operator: it gets no new messages"
    if sim.quarantined_at is not None:
        return "quarantined", sim.quarantine_reason
    if not sim.healthy:
        since = f" since {iso_utc(sim.health_changed_at)}" if sim.health_changed_at else ""
        return "dead", f"no heartbeat from its gammu-smsd{since}"
    if sim.stalled_since is not None:
        return "stalled", sim.stall_reason
    return "healthy", None


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
    _check_limit(monthly_limit)
    get_sim(session, name).monthly_limit = monthly_limit


def set_modem(
    session: Session,
    settings: Settings,
    name: str,
    *,
    device: str | None = None,
    connection: str | None = None,
    pin: object = smsd.KEEP,
) -> None:
    """Change where the SIM's daemon finds its modem and the PIN it unlocks
    the card with, and rewrite the daemon's config (restarting the daemon is
    the caller's choice). ``pin``: a PIN, None to remove it, or ``smsd.KEEP``."""
    sim = get_sim(session, name)
    if sim.simulated and (device is not None or connection is not None):
        raise UserError(f"SIM {name} is simulated: it has no device or connection", field="device")
    _check_device(device, connection if connection is not None else (sim.connection or "at"))
    if device is not None:
        sim.device = device
    if connection is not None:
        sim.connection = connection
    if pin is not smsd.KEEP and pin is not None and not smsd.PIN.match(str(pin)):
        raise UserError("a PIN is 4 to 8 digits", field="pin")
    smsd.write_config(settings, sim, pin)


def set_number(session: Session, settings: Settings, name: str, number: str) -> None:
    try:
        e164 = normalise_number(number, settings.default_region)
    except AcceptError as exc:
        raise UserError(f"SIM number: {exc.message}", field="number") from None
    get_sim(session, name).number = e164


def set_balance(
    session: Session,
    name: str,
    *,
    code: object = UNSET,
    every: object = UNSET,
    pattern: object = UNSET,
    low: object = UNSET,
) -> None:
    """The SIM's balance checks: USSD code, every how many hours, the regex
    reading the amount and the low mark. None turns one off (the pattern:
    back to the default)."""
    sim = get_sim(session, name)
    if code is not UNSET:
        sim.balance_code = None if code is None else balance.check_code(str(code))
    if every is not UNSET:
        if every is not None and not (isinstance(every, int) and 1 <= every <= 24 * 90):
            raise UserError("check every 1 to 2160 hours", field="balance_every")
        sim.balance_every = every
    if pattern is not UNSET:
        sim.balance_pattern = None if pattern is None else balance.check_pattern(str(pattern))
    if low is not UNSET:
        try:
            sim.balance_low = None if low is None else Decimal(str(low)).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise UserError(f"not an amount: {low!r}", field="balance_low") from None
    if sim.balance_every and not sim.balance_code:
        raise UserError("a scheduled check needs a code: give --balance-code too", field="balance_every")


def quarantine(session: Session, sim: Sim, reason: str, *, now: datetime | None = None) -> None:
    """Give the SIM nothing until an operator acts; the caller records why."""
    sim.quarantined_at = sim.quarantined_at or now or utcnow()
    sim.quarantine_reason = reason[:255]


def accept_card(session: Session, name: str, *, now: datetime | None = None) -> str:
    """Take the new card seen on a quarantined SIM into service: it becomes
    the SIM's identity and starts a new usage count (parts still being sent
    stay counted). Return what was done, in words."""
    now = now or utcnow()
    sim = get_sim(session, name)
    if sim.quarantined_at is None or sim.new_imsi is None:
        raise UserError(f"SIM {name} has no new card waiting to be accepted")
    twin = same_card(session, sim, sim.new_imsi)
    if twin is not None:
        raise UserError(
            f"the card in SIM {name}'s modem (IMSI {sim.new_imsi}) is SIM {twin.name}'s: point one "
            "of them at another modem (`sim set --device`) or remove one"
        )
    old = sim.imsi
    sim.imsi, sim.imei, sim.identity_since = sim.new_imsi, sim.new_imei, now
    sim.new_imsi = sim.new_imei = None
    sim.quarantined_at = sim.quarantine_reason = None
    (key,) = usage.month_keys([sim], now.date())
    usage.lock_month(session, [key])
    still_sending = session.scalar(
        select(func.coalesce(func.sum(MessageAttempt.parts), 0)).where(
            MessageAttempt.sim_id == sim.id,
            MessageAttempt.period_start == key[1],
            MessageAttempt.outcome == AttemptOutcome.PENDING,
        )
    )
    session.execute(
        update(SimUsage)
        .where(SimUsage.sim_id == sim.id, SimUsage.period_start == key[1])
        .values(parts=still_sending)
    )
    done = (
        f"card {sim.imsi} taken into service (was {old or 'unknown'}); "
        f"parts used this month start again from {still_sending}"
    )
    sim_events.record(session, sim.id, "card_accepted", done, now=now)
    return done


def same_card(session: Session, sim: Sim, imsi: str) -> Sim | None:
    """Another SIM in service whose card has this IMSI. Simulated SIMs all
    report Gammu's dummy IMSI, so two simulated ones are never one card."""
    query = select(Sim).where(Sim.id != sim.id, Sim.removed_at.is_(None), Sim.imsi == imsi)
    if sim.simulated:
        query = query.where(Sim.simulated.is_(False))
    return session.scalars(query.order_by(Sim.id)).first()


def remove_sim(
    session: Session, settings: Settings, name: str, *, take_back: bool = False, now: datetime | None = None
) -> str:
    """Take the SIM out of service for good: its daemon here stopped, its
    config deleted, its history kept. Refuses while messages wait in its
    outbox untouched (unless ``take_back``: they go back to the queue for
    other SIMs first) and while its daemon is sending. Return what was done."""
    now = now or utcnow()
    sim = get_sim(session, name)
    untouched, started = outbox.waiting_messages(session, sim.id)
    if untouched and not take_back:
        raise UserError(
            f"SIM {name} has {untouched} message(s) in its outbox that its daemon has not started; "
            "take them back first (`--take-back`: they go out through other SIMs)"
        )
    alive = session.scalar(select(func.count()).where(Phone.id == name, Phone.timeout > func.now()))
    pid = smsd.running_pid(settings, name)
    if alive and started:
        raise UserError(f"SIM {name} is sending {started} message(s) right now; remove it when they are done")
    if alive and pid is None and not smsd.has_config(settings, name):
        raise UserError(
            f"SIM {name}'s daemon is alive but does not run on this host: stop it where it runs, then remove"
        )
    stopped = smsd.stop(settings, name) if pid is not None else False
    taken = outbox.take_back(session, [sim.id], now=now, why="the SIM was removed") if take_back else 0
    for check in session.scalars(
        select(BalanceCheck).where(BalanceCheck.sim_id == sim.id, BalanceCheck.state == "asked")
    ):
        check.state, check.error = "failed", "the SIM was removed"
        if check.outbox_id is not None:
            outbox.withdraw(session, check.outbox_id)
    sim.removed_at, sim.enabled = now, False
    smsd.remove_config(settings, name)
    parts = [f"SIM {name} removed; its messages stay in the archive"]
    if stopped:
        parts.append("its daemon was stopped")
    if taken:
        parts.append(f"{taken} waiting message(s) went back to the queue for other SIMs")
    if started:
        parts.append(
            f"{started} message(s) it had started stay as they are: sent if it reports them, "
            "else failed after abandon_after (they may have gone out)"
        )
    done = "; ".join(parts)
    sim_events.record(session, sim.id, "removed", done, now=now)
    return done


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
    rows = session.execute(
        select(Outbox.sender_id, func.count()).where(Outbox.sender_id.in_(names)).group_by(Outbox.sender_id)
    )
    return {name: count for name, count in rows if name is not None}


def sim_overview(session: Session, *, user: User | None = None, now: datetime | None = None) -> list[dict]:
    """One dict per SIM in service (only those ``user`` may use, when given)."""
    now = now or utcnow()
    query = select(Sim).where(Sim.removed_at.is_(None)).order_by(Sim.name)
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
    balances = balance.latest(session, [s.id for s in sims])
    result = []
    for sim, (_, start) in zip(sims, keys, strict=True):
        phone = phones.get(sim.name)
        state, reason = sim_state(sim)
        money = balances.get(sim.id, {})
        amount = money.get("amount")
        result.append(
            {
                "name": sim.name,
                "number": sim.number,
                "state": state,
                "state_reason": reason,
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
                "stalled_since": iso_utc(sim.stalled_since),
                "watchdog": {
                    "stall_after": sim.stall_after,
                    "stall_errors": sim.stall_errors,
                    "restart_stalled": sim.restart_stalled,
                    "restarts": sim.restarts,
                    "restarted_at": iso_utc(sim.restarted_at),
                },
                "device": sim.device,
                "connection": sim.connection,
                "imsi": sim.imsi,
                "imei": sim.imei,
                "identity_since": iso_utc(sim.identity_since),
                "new_imsi": sim.new_imsi,
                "new_imei": sim.new_imei,
                "quarantined_at": iso_utc(sim.quarantined_at),
                "balance": float(amount) if amount is not None else None,
                "balance_at": iso_utc(money.get("at")),
                "balance_low": amount is not None
                and sim.balance_low is not None
                and amount < sim.balance_low,
                "balance_answer": money.get("answer"),
                "balance_error": money.get("error"),
                "balance_code": sim.balance_code,
                "balance_every": sim.balance_every,
                "windows": usage.windows_view(usage.Pace.of(sim), flows.get(sim.id), now),
                "max_recipients_per_month": sim.max_recipients_per_month,
                "recipients_this_period": flows[sim.id].recipients
                if sim.max_recipients_per_month is not None
                else None,
                "jitter": sim.jitter,
            }
        )
    return result


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
            raise UserError("must be at least 10 seconds", field="stall_after")
        sim.stall_after = stall_after
    if stall_errors is not None:
        if not 1 <= stall_errors <= 100:
            raise UserError("must be between 1 and 100 sends", field="stall_errors")
        sim.stall_errors = stall_errors
    if restart_stalled is not None:
        sim.restart_stalled = restart_stalled
    for field, value in (("reset_every", reset_every), ("hard_reset_every", hard_reset_every)):
        if value is not None:
            if value < 0:
                raise UserError("must be 0 (off) or more seconds", field=field)
            setattr(sim, field, value)
    if settings is not None and (reset_every is not None or hard_reset_every is not None):
        session.flush()
        smsd.write_config(settings, sim)
