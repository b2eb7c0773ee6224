"""The watchdog: a SIM whose daemon heartbeats but does not send is
*stalled* — the failure USB modems are known for (the daemon lives, the
modem has hung), and the one a heartbeat cannot see.

A heartbeating SIM is stalled when due rows sit untouched in its outbox
longer than its ``stall_after`` while its daemon shows no progress (no
lease, no ``sentitems`` row, no reconnect) for as long, or when its last
``stall_errors`` sends all ended in an error. A stalled SIM gets nothing
new; health takes its untouched rows back so they leave through another
SIM. It returns to service by itself when its daemon shows life again: it
(re)connects to its modem, or a text it had goes out. ``sim enable`` also
clears a stall by hand. Optionally (``restart_stalled``) the worker
restarts a daemon it runs on this host: at once, then backing off from one
minute to an hour between restarts.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import smsd
from ..clock import utcnow
from ..config import Settings
from ..models import Outbox, Phone, SentItem, Sim
from ..outbox import ERROR_STATUSES, SENT_STATUSES, touched, untouched

log = logging.getLogger("smsbridge.watchdog")
MAX_RESTART_BACKOFF = 3600.0


@dataclasses.dataclass
class WatchdogResult:
    stalled: list[str] = dataclasses.field(default_factory=list)  # newly
    recovered: list[str] = dataclasses.field(default_factory=list)


def watch(session: Session, *, now: datetime | None = None) -> WatchdogResult:
    """Judge every enabled, heartbeating SIM; record stalls and recoveries.
    The caller commits."""
    now = now or utcnow()
    db_now = session.scalar(select(func.now())) or now
    result = WatchdogResult()
    rows = session.execute(
        select(Sim, Phone.insert_into_db)
        .join(Phone, Phone.id == Sim.name)
        .where(Sim.enabled.is_(True), Phone.timeout > func.now())
        .order_by(Sim.id)
    ).all()
    for sim, connected_at in rows:
        if sim.stalled_since is not None:
            if _shows_life(session, sim, connected_at):
                clear_stall(sim, now)
                result.recovered.append(sim.name)
                log.warning("SIM %s is sending again; back in service", sim.name)
            continue
        reason = _stall_reason(session, sim, connected_at, db_now)
        if reason:
            sim.stalled_since, sim.stall_reason, sim.restarts = now, reason[:255], 0
            result.stalled.append(sim.name)
            log.warning("SIM %s stalled: %s", sim.name, reason)
    return result


def clear_stall(sim: Sim, now: datetime) -> None:
    """Back in service; the watchdog judges only what happens from now on."""
    sim.stalled_since = sim.stall_reason = None
    sim.watch_since = now


def _stall_reason(session: Session, sim: Sim, connected_at: datetime, db_now: datetime) -> str | None:
    quiet_since = db_now - timedelta(seconds=sim.stall_after)
    waiting, oldest = session.execute(
        select(func.count(), func.min(Outbox.sending_datetime)).where(
            Outbox.sender_id == sim.name, *untouched(), Outbox.sending_datetime <= quiet_since
        )
    ).one()
    if waiting:
        last_lease = session.scalar(
            select(func.max(Outbox.updated_in_db)).where(Outbox.sender_id == sim.name, touched())
        )
        last_sent = session.scalar(
            select(func.max(SentItem.insert_into_db)).where(SentItem.sender_id == sim.name)
        )
        progress = max(t for t in (connected_at, last_lease, last_sent) if t is not None)
        if progress <= quiet_since:
            age = int((db_now - oldest).total_seconds())
            return (
                f"{waiting} text(s) due for {age} s untouched in its outbox while its daemon "
                f"heartbeats (nothing sent for {int((db_now - progress).total_seconds())} s)"
            )
    since = max(t for t in (connected_at, sim.watch_since) if t is not None)
    recent = session.scalars(
        select(SentItem.status)
        .where(SentItem.sender_id == sim.name, SentItem.insert_into_db > since)
        .order_by(SentItem.insert_into_db.desc(), SentItem.id.desc())
        .limit(sim.stall_errors)
    ).all()
    if len(recent) == sim.stall_errors and all(status in ERROR_STATUSES for status in recent):
        return f"its last {sim.stall_errors} sends all failed ({recent[0]})"
    return None


def _shows_life(session: Session, sim: Sim, connected_at: datetime) -> bool:
    assert sim.stalled_since is not None
    # The daemon reconnected to its modem (restart, reset, replug). Equal
    # counts: both are whole seconds, and a restart right after the stall
    # falls in the same second; a connection before the stall cannot, since
    # a stall needs stall_after seconds without progress after it.
    if connected_at >= sim.stalled_since:
        return True
    return bool(
        session.scalar(
            select(func.count()).where(
                SentItem.sender_id == sim.name,
                SentItem.insert_into_db > sim.stalled_since,
                SentItem.status.in_(SENT_STATUSES),
            )
        )
    )


def restarts_due(session: Session, settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Stalled SIMs whose daemon this host runs and may restart now (their
    back-off has passed); each is recorded as restarted. The caller commits,
    then restarts them outside the transaction."""
    now = now or utcnow()
    due = []
    for sim in session.scalars(
        select(Sim).where(Sim.stalled_since.is_not(None), Sim.restart_stalled.is_(True)).with_for_update()
    ):
        if smsd.running_pid(settings, sim.name) is None:
            continue  # not ours to restart (another host, or stopped on purpose)
        assert sim.stalled_since is not None
        # At once the first time, then 1, 2, 4 … minutes apart, at most an hour.
        backoff = 0.0 if sim.restarts == 0 else min(60.0 * 2 ** (sim.restarts - 1), MAX_RESTART_BACKOFF)
        if now - (sim.restarted_at or sim.stalled_since) < timedelta(seconds=backoff):
            continue
        sim.restarts += 1
        sim.restarted_at = now
        due.append(sim.name)
    return due
