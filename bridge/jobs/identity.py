"""Identity: which card (IMSI) and which modem (IMEI) each SIM's daemon
reports, compared with what was recorded.

gammu-smsd writes both into its ``phones`` row when it starts. The first
sight is recorded as the SIM's identity. Later:

- the same card in another modem (IMEI changed): recorded, an event;
- another card (IMSI changed): the card was swapped, or the device now
  leads to another modem (``/dev/ttyUSB`` renumbered). The SIM is
  quarantined: dispatch gives it nothing and what waits untouched in its
  outbox is taken back, until ``smsbridge sim accept`` takes the new card
  into service, or the old card comes back;
- a card that another SIM already has: two daemons on one modem, or two
  configs on one port. The SIM that saw it later is quarantined.

Every one of these is a ``sim_events`` row; nothing is decided silently.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import sim_events
from ..clock import utcnow
from ..models import Phone, Sim
from ..outbox import take_back
from ..sims import quarantine, same_card


@dataclasses.dataclass
class IdentityResult:
    recorded: list[str] = dataclasses.field(default_factory=list)
    quarantined: list[str] = dataclasses.field(default_factory=list)
    restored: list[str] = dataclasses.field(default_factory=list)
    modem_changed: list[str] = dataclasses.field(default_factory=list)
    taken_back: int = 0


def check_identities(session: Session, *, now: datetime | None = None) -> IdentityResult:
    """Compare every SIM's reported identity with its recorded one; the caller commits."""
    now = now or utcnow()
    result = IdentityResult()
    rows = session.execute(
        select(Sim, Phone.imsi, Phone.imei)
        .join(Phone, Phone.id == Sim.name)
        .where(Sim.removed_at.is_(None))
        .order_by(Sim.id)
        .with_for_update(of=Sim)
    ).all()
    for sim, imsi, imei in rows:
        if not imsi:
            continue  # the modem would not say (no card, PIN locked): nothing to compare
        if sim.imsi is None:
            _first_sight(session, sim, imsi, imei, now, result)
        elif imsi != sim.imsi:
            _other_card(session, sim, imsi, imei, now, result)
        else:
            _same_card(session, sim, imei, now, result)
        session.flush()  # the next SIM's duplicate check sees this one's identity
    return result


def _first_sight(session: Session, sim: Sim, imsi: str, imei: str, now: datetime, result) -> None:
    twin = same_card(session, sim, imsi)
    if twin is not None:
        _quarantine_twin(session, sim, twin, imsi, imei, now, result)
        return
    sim.imsi, sim.imei, sim.identity_since = imsi, imei or None, now
    detail = f"card IMSI {imsi} in modem IMEI {imei}"
    if sim.quarantined_at is not None:  # it had reported another SIM's card; no longer
        sim.quarantined_at = sim.quarantine_reason = None
        sim.new_imsi = sim.new_imei = None
        detail += "; no other SIM has this card, so it is in service again"
    sim_events.record(session, sim.id, "identity_recorded", detail, now=now)
    result.recorded.append(sim.name)


def _other_card(session: Session, sim: Sim, imsi: str, imei: str, now: datetime, result) -> None:
    if sim.new_imsi == imsi and sim.quarantined_at is not None:
        return  # already quarantined for this very card
    twin = same_card(session, sim, imsi)
    if twin is not None:
        _quarantine_twin(session, sim, twin, imsi, imei, now, result)
        return
    sim.new_imsi, sim.new_imei = imsi, imei or None
    reason = (
        f"another card in its modem: IMSI {imsi} (IMEI {imei}) instead of {sim.imsi} (IMEI {sim.imei}); "
        f"`smsbridge sim accept {sim.name}` takes it into service"
    )
    quarantine(session, sim, reason, now=now)
    sim_events.record(session, sim.id, "identity_changed", reason, now=now)
    result.quarantined.append(sim.name)


def _quarantine_twin(
    session: Session, sim: Sim, twin: Sim, imsi: str, imei: str, now: datetime, result
) -> None:
    if sim.new_imsi == imsi and sim.quarantined_at is not None:
        return
    sim.new_imsi, sim.new_imei = imsi, imei or None
    reason = (
        f"reports the card of SIM {twin.name} (IMSI {imsi}): two daemons on one modem, or two SIMs "
        f"on one port; fix the device of one (`sim set --device`) or remove one"
    )
    quarantine(session, sim, reason, now=now)
    sim_events.record(session, sim.id, "duplicate_imsi", reason, now=now)
    result.quarantined.append(sim.name)


def _same_card(session: Session, sim: Sim, imei: str, now: datetime, result) -> None:
    if sim.quarantined_at is not None and sim.new_imsi is not None:
        # The recorded card is back (or the port leads to its modem again).
        sim.quarantined_at = sim.quarantine_reason = None
        sim.new_imsi = sim.new_imei = None
        sim_events.record(
            session,
            sim.id,
            "identity_restored",
            f"its own card IMSI {sim.imsi} is back; in service again",
            now=now,
        )
        result.restored.append(sim.name)
    if imei and imei != sim.imei:
        sim_events.record(
            session,
            sim.id,
            "modem_changed",
            f"card IMSI {sim.imsi} is now in modem IMEI {imei} (was {sim.imei})",
            now=now,
        )
        sim.imei = imei
        result.modem_changed.append(sim.name)


def take_back_quarantined(session: Session, *, now: datetime | None = None) -> int:
    """What waits untouched in a quarantined SIM's outbox goes back to the queue."""
    quarantined = session.scalars(
        select(Sim.id).where(Sim.quarantined_at.is_not(None), Sim.removed_at.is_(None))
    ).all()
    return take_back(session, list(quarantined), now=now, why="it is quarantined (another card in its modem)")
