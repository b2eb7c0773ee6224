"""What counts as trouble: one small check per alert kind, in a registry.

A check looks at the database as it is now and returns one ``Finding`` per
subject in trouble (a SIM's name, a user's login, or "" for the gateway as
a whole); ``bridge.alerts`` compares that with the open alerts to raise,
remind and resolve. A check decides nothing else and changes nothing.

Adding a kind is one function here: ``@check("sim:limit")`` on a
function of ``(session, settings, now)``. ``where`` says which process runs
it: the worker's alert pass, or the web app for ``worker:down`` (a dead
worker cannot report its own death)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import balance, heartbeat, usage
from .config import Settings
from .messages import stuck, waiting_since
from .models import Message, Sim, User, WebhookDelivery
from .sims import sim_state

Level = Literal["warning", "critical"]


@dataclasses.dataclass(frozen=True)
class Finding:
    subject: str  # a SIM's name, a user's login, or "" for the gateway
    detail: str  # in words a person can act on
    level: Level = "critical"
    sim_id: int | None = None  # the SIM in trouble: alert texts avoid it


Run = Callable[[Session, Settings, datetime], list[Finding]]


@dataclasses.dataclass(frozen=True)
class Check:
    kind: str
    run: Run
    where: Literal["worker", "web"] = "worker"


CHECKS: dict[str, Check] = {}


def check(kind: str, *, where: Literal["worker", "web"] = "worker") -> Callable[[Run], Run]:
    """Register ``run`` as the check of ``kind``."""

    def register(run: Run) -> Run:
        CHECKS[kind] = Check(kind, run, where)
        return run

    return register


def kinds(where: Literal["worker", "web"]) -> list[str]:
    return [kind for kind, c in CHECKS.items() if c.where == where]


def _enabled_sims(session: Session) -> list[Sim]:
    return list(session.scalars(select(Sim).where(Sim.enabled.is_(True)).order_by(Sim.name)))


def _in_state(session: Session, state: str, says: str) -> list[Finding]:
    """Every enabled SIM in ``state``, with the reason ``sim_state`` gives."""
    return [
        Finding(sim.name, f"SIM {sim.name} ({sim.number}) {says}: {sim_state(sim)[1]}", sim_id=sim.id)
        for sim in _enabled_sims(session)
        if sim_state(sim)[0] == state
    ]


@check("sim:down")
def sim_down(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """An enabled SIM whose daemon's heartbeat stopped (or never began)."""
    return _in_state(session, "dead", "is down")


@check("sim:stalled")
def sim_stalled(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """A SIM whose daemon heartbeats but does not send (the watchdog's verdict)."""
    return _in_state(session, "stalled", "stalled")


@check("sim:quarantined")
def sim_quarantined(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """A SIM that gets nothing because its card changed, or another SIM has its card."""
    return _in_state(session, "quarantined", "is quarantined")


@check("sim:balance_low")
def sim_balance_low(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """A SIM whose last balance read is below its low mark (``sim set --balance-low``)."""
    sims = [sim for sim in _enabled_sims(session) if sim.balance_low is not None]
    last = balance.latest(session, [sim.id for sim in sims])
    findings = []
    for sim in sims:
        amount = last.get(sim.id, {}).get("amount")
        if amount is not None and sim.balance_low is not None and amount < sim.balance_low:
            findings.append(
                Finding(
                    sim.name,
                    f"SIM {sim.name} ({sim.number}) balance {amount} is below {sim.balance_low}: top it up",
                    level="warning",
                    sim_id=sim.id,
                )
            )
    return findings


LIMIT_WARNING = 0.8


@check("sim:limit")
def sim_limit(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """80 % (warning) and 100 % (critical) of a SIM's monthly limit used."""
    sims = [sim for sim in _enabled_sims(session) if sim.monthly_limit]
    used = usage.parts_used(session, usage.month_keys(sims, now.date()))
    found = []
    for sim in sims:
        assert sim.monthly_limit  # filtered above
        parts = used.get(sim.id, 0)
        if parts >= sim.monthly_limit * LIMIT_WARNING:
            full = parts >= sim.monthly_limit
            found.append(
                Finding(
                    sim.name,
                    f"SIM {sim.name} has used {parts} of its {sim.monthly_limit} parts this month"
                    + (": it sends nothing more until the next period" if full else ""),
                    level="critical" if full else "warning",
                    sim_id=sim.id,
                )
            )
    return found


@check("queue:stuck")
def queue_stuck(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """Any text accepted more than ``stuck_after`` ago and still not sent."""
    after = timedelta(seconds=settings.stuck_after)
    count, oldest = session.execute(
        select(func.count(), func.min(waiting_since())).where(stuck(now, after))
    ).one()
    if not count:
        return []
    reason = session.scalar(
        select(Message.wait_reason).where(stuck(now, after), Message.wait_reason.is_not(None)).limit(1)
    )
    minutes = int((now - oldest).total_seconds() // 60)
    return [
        Finding(
            "",
            f"{count} text(s) accepted more than {settings.stuck_after // 60} min ago are not sent yet "
            f"(the oldest waits for {minutes} min)" + (f"; {reason}" if reason else ""),
        )
    ]


@check("worker:down", where="web")
def worker_down(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """No job pass for ``worker_down_after`` seconds."""
    age = heartbeat.seconds_since_pass(session, now)
    if age is not None and age <= settings.worker_down_after:
        return []
    said = "has never run" if age is None else f"has not run a pass for {int(age)} s"
    return [Finding("", f"the worker {said}: nothing is dispatched, harvested or received")]


@check("webhook:failing")
def webhook_failing(session: Session, settings: Settings, now: datetime) -> list[Finding]:
    """A user's endpoint that has failed every try of a delivery for ``webhook_failing_after``."""
    since = now - timedelta(seconds=settings.webhook_failing_after)
    rows = session.execute(
        select(User.login, func.count(), func.min(WebhookDelivery.created_at), func.max(WebhookDelivery.url))
        .join(User, User.id == WebhookDelivery.user_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.last_error.is_not(None),
            WebhookDelivery.created_at <= since,
        )
        .group_by(User.login)
        .order_by(User.login)
    ).all()
    return [
        Finding(
            login,
            f"{login}'s webhook {url} has failed for {int((now - oldest).total_seconds() // 60)} min; "
            f"{count} event(s) wait",
            level="warning",
        )
        for login, count, oldest, url in rows
    ]
