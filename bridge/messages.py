"""Reading messages back: the one view of a sent message and of a received
one that every interface (API, CLI, admin, webhook payloads) shows, and
what "stuck" means (the dashboard, the archive's filter and the queue:stuck
alert count the same rows)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, selectinload

from .clock import iso_utc
from .errors import NotFound
from .models import InboundMessage, Message, MessageAttempt, MessageStatus, User

# Accepted but not yet on the air: waiting for a SIM, or in a SIM's outbox.
NOT_ON_AIR = (MessageStatus.QUEUED, MessageStatus.DISPATCHED)


def waiting_since() -> ColumnElement[datetime]:
    """When a message began to wait: its acceptance, or its send_at when it
    asked for a later time. Not ``due_at``, which dispatch moves forward
    each time it finds no SIM."""
    return func.coalesce(func.greatest(Message.created_at, Message.send_at), Message.created_at)


def stuck(now: datetime, stuck_after: timedelta) -> ColumnElement[bool]:
    """A message waiting longer than ``stuck_after`` and still not sent,
    whatever the reason (no SIM, no room, a daemon that does not send)."""
    return and_(Message.status.in_(NOT_ON_AIR), waiting_since() < now - stuck_after)


def visible_message(session: Session, message_id: int, user: User | None) -> Message:
    """The message, if ``user`` may see it (its sender, or an admin; None is
    the operator at the command line)."""
    message = session.scalar(
        select(Message)
        .where(Message.id == message_id)
        .options(selectinload(Message.attempts).selectinload(MessageAttempt.sim), selectinload(Message.sim))
    )
    if message is None or (user is not None and message.user_id != user.id and not user.is_admin):
        raise NotFound(f"no message {message_id}")
    return message


def message_view(message: Message) -> dict:
    return {
        "id": message.id,
        "to": message.recipient,
        "text": message.text,
        "status": message.status.value,
        "flash": message.flash,
        "priority": message.priority,
        "sim": message.sim.name if message.sim else None,
        "parts": message.parts,
        "attempts": message.attempts_made,
        "attempts_allowed": message.attempts_allowed,
        "wait_reason": message.wait_reason,
        "quiet_hours": message.quiet_hours,
        "last_error": message.last_error,
        "delivery_report": message.delivery_report,
        "delivery_status": message.delivery_status,
        "on_uncertain": message.on_uncertain.value,
        "created_at": iso_utc(message.created_at),
        "send_at": iso_utc(message.send_at),
        "expires_at": iso_utc(message.expires_at),
        "dispatched_at": iso_utc(message.dispatched_at),
        "sent_at": iso_utc(message.sent_at),
        "finished_at": iso_utc(message.finished_at),
        "history": [
            {
                "sim": a.sim.name,
                "outcome": a.outcome.value,
                "parts": a.parts,
                "dispatched_at": iso_utc(a.dispatched_at),
                "finished_at": iso_utc(a.finished_at),
                "error": a.error,
            }
            for a in message.attempts
        ],
    }


def list_inbound(
    session: Session, user, *, since: int = 0, limit: int = 100, newest_first: bool = False
) -> list[InboundMessage]:
    """Cursor-paged: messages with id > ``since``, oldest first. With
    ``newest_first`` the pages run the other way: ``since`` is still the
    last id seen, so a page holds the ids below it (0: from the newest)."""
    if newest_first:
        query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
        if since:
            query = query.where(InboundMessage.id < since)
    else:
        query = (
            select(InboundMessage).where(InboundMessage.id > since).order_by(InboundMessage.id).limit(limit)
        )
    if user is not None and not user.is_admin:
        query = query.where(InboundMessage.user_id == user.id)
    return list(session.scalars(query))


def inbound_data(inbound: InboundMessage) -> dict:
    return {
        "inbound_id": inbound.id,
        "from": inbound.sender,
        "sim": inbound.sim_name,
        "text": inbound.text,
        "parts": inbound.parts,
        "complete": inbound.complete,
        "received_at": iso_utc(inbound.received_at),
    }


def inbound_view(inbound: InboundMessage) -> dict:
    return {
        **inbound_data(inbound),
        "id": inbound.id,
        "rules": [{"rule": r.label, "outcome": r.outcome, "detail": r.detail} for r in inbound.results],
    }
