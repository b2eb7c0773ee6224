"""Inbound: Gammu's inbox -> one stored message per text (long texts joined
from their parts) -> the rules and the user's webhook.

Inbox rows are claimed with ``SKIP LOCKED`` and marked processed in the
transaction that copies them, so several workers never take one twice and
the inbox may be pruned afterwards without losing anything.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import webhooks
from ..clock import utcnow
from ..config import Settings
from ..messages import inbound_data
from ..models import (
    USSD_CLASS,
    AttemptOutcome,
    InboundMessage,
    InboundPart,
    Inbox,
    Message,
    MessageAttempt,
    Sim,
)
from .apply_rules import run_rules


@dataclasses.dataclass
class InboundResult:
    parts: int = 0
    messages: int = 0


def parse_udh(udh_hex: str) -> tuple[int | None, int, int]:
    """(reference, total, sequence) of a concatenated part; (None, 1, 1) otherwise."""
    udh = (udh_hex or "").upper()
    if udh.startswith("050003") and len(udh) >= 12:
        return int(udh[6:8], 16), int(udh[8:10], 16), int(udh[10:12], 16)
    if udh.startswith("060804") and len(udh) >= 14:
        return int(udh[6:10], 16), int(udh[10:12], 16), int(udh[12:14], 16)
    return None, 1, 1


def receive(
    session: Session, settings: Settings, *, now: datetime | None = None, limit: int = 500
) -> InboundResult:
    """One pass; the caller commits."""
    now = now or utcnow()
    result = InboundResult()
    rows = session.scalars(
        select(Inbox)
        # USSD answers (Class 127) are the balance pass's, never a text for the rules.
        .where(Inbox.processed == "false", Inbox.sms_class != USSD_CLASS)
        .order_by(Inbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        reference, total, sequence = parse_udh(row.udh)
        session.add(
            InboundPart(
                inbox_id=row.id,
                sim_name=row.recipient_id or "",
                sender=row.sender_number,
                text=row.text_decoded or "",
                reference=reference,
                total=max(total, 1),
                sequence=sequence,
                received_at=row.receiving_datetime,
            )
        )
        row.processed = "true"
    result.parts = len(rows)
    session.flush()
    for inbound in _assemble(session, settings, now):
        inbound.user_id = _attribute(session, inbound)
        session.flush()
        run_rules(session, settings, inbound, now)
        webhooks.enqueue_for_user(session, inbound.user_id, "sms:received", inbound_data(inbound), now=now)
        result.messages += 1
    return result


def _assemble(session: Session, settings: Settings, now: datetime) -> list[InboundMessage]:
    """Messages from the unassigned parts that are complete, or that waited
    long enough for their missing parts."""
    open_parts = session.scalars(
        select(InboundPart)
        .where(InboundPart.message_id.is_(None))
        .order_by(InboundPart.id)
        .with_for_update(skip_locked=True)
    ).all()
    groups: dict[tuple, list[InboundPart]] = defaultdict(list)
    for part in open_parts:
        key = (
            (part.sim_name, part.sender, part.reference, part.total)
            if part.reference is not None
            else ("single", part.id)
        )
        groups[key].append(part)
    sims = dict(session.execute(select(Sim.name, Sim.id)).all())
    created = []
    give_up = now - timedelta(seconds=settings.inbound_part_wait)
    for parts in groups.values():
        by_sequence = {p.sequence: p for p in parts}
        total = parts[0].total
        complete = len(by_sequence) >= total
        if not complete and min(p.received_at for p in parts) > give_up:
            continue
        ordered = [by_sequence[n] for n in sorted(by_sequence)]
        inbound = InboundMessage(
            sim_id=sims.get(parts[0].sim_name),
            sim_name=parts[0].sim_name,
            sender=parts[0].sender,
            text="".join(p.text for p in ordered),
            parts=len(ordered),
            complete=complete,
            received_at=max(p.received_at for p in parts),
            created_at=now,
        )
        session.add(inbound)
        session.flush()
        for p in parts:
            p.message_id = inbound.id
        created.append(inbound)
    return created


def _attribute(session: Session, inbound: InboundMessage) -> int | None:
    """The user who last texted this number through this SIM, else the
    SIM's owner (None: only admins see it)."""
    last_sender = session.scalar(
        select(Message.user_id)
        .join(MessageAttempt, MessageAttempt.message_id == Message.id)
        .where(
            Message.recipient == inbound.sender,
            MessageAttempt.sim_id == inbound.sim_id,
            MessageAttempt.outcome == AttemptOutcome.SENT,
        )
        .order_by(MessageAttempt.id.desc())
        .limit(1)
    )
    if last_sender is not None:
        return last_sender
    return session.scalar(select(Sim.owner_id).where(Sim.id == inbound.sim_id))
