"""Reading messages back: the one view of a sent message and of a received
one that every interface (API, CLI, admin, webhook payloads) shows, and
what "stuck" means (the dashboard, the archive's filter and the queue:stuck
alert count the same rows), and what a rule's action on a received text led
to (the messages or the webhook delivery it made, named in its detail)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from .clock import iso_utc
from .errors import NotFound
from .models import InboundMessage, Message, MessageAttempt, MessageStatus, RuleResult, User, WebhookDelivery

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
    session: Session,
    user,
    *,
    since: int = 0,
    limit: int = 100,
    newest_first: bool = False,
    search: str = "",
) -> list[InboundMessage]:
    """Cursor-paged: messages with id > ``since``, oldest first. With
    ``newest_first`` the pages run the other way: ``since`` is still the
    last id seen, so a page holds the ids below it (0: from the newest).
    ``search``: only texts whose sender or text contains it."""
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
    if search.strip():
        query = query.where(
            or_(
                InboundMessage.sender.contains(search.strip(), autoescape=True),
                InboundMessage.text.contains(search.strip(), autoescape=True),
            )
        )
    return list(session.scalars(query))


def visible_inbound(session: Session, inbound_id: int, user: User | None) -> InboundMessage:
    """The received text, if ``user`` may see it (the user it is attributed
    to, or an admin; None is the operator at the command line)."""
    inbound = session.get(InboundMessage, inbound_id)
    if inbound is None or (user is not None and not user.is_admin and inbound.user_id != user.id):
        raise NotFound(f"no received text {inbound_id}")
    return inbound


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


# How a rule's detail names what its action made (bridge.jobs.apply_rules
# writes it, follow_ups reads it back): the id is in the detail, so old
# results link too and no column is needed.
_MADE_MESSAGES = re.compile(r"queued message (\d+(?:, \d+)*)")
_MADE_DELIVERY = re.compile(r"webhook delivery ([0-9a-f]{32}) queued")


def made_messages(ids: Iterable[int]) -> str:
    return "queued message " + ", ".join(str(i) for i in ids)


def made_delivery(delivery_id: str) -> str:
    return f"webhook delivery {delivery_id} queued"


def follow_ups(session: Session, results: Iterable[RuleResult]) -> dict[int, dict]:
    """What each rule result's action led to, by result id: ``messages``
    (each with its id, status and last error or wait reason) and
    ``delivery`` (the webhook delivery's outcome in words), read now."""
    message_ids: dict[int, list[int]] = {}
    delivery_ids: dict[int, str] = {}
    for result in results:
        if result.outcome != "done":
            continue  # an error made nothing (its savepoint was rolled back)
        found = _MADE_MESSAGES.search(result.detail or "")
        if found:
            message_ids[result.id] = [int(i) for i in found.group(1).split(", ")]
        made = _MADE_DELIVERY.search(result.detail or "")
        if made:
            delivery_ids[result.id] = made.group(1)
    wanted = {i for ids in message_ids.values() for i in ids}
    messages = {
        m.id: m for m in (session.scalars(select(Message).where(Message.id.in_(wanted))) if wanted else [])
    }
    deliveries = {
        d.id: d
        for d in (
            session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(set(delivery_ids.values()))))
            if delivery_ids
            else []
        )
    }
    found_ups: dict[int, dict] = {}
    for result_id in message_ids.keys() | delivery_ids.keys():
        delivery = deliveries.get(delivery_ids.get(result_id, ""))
        found_ups[result_id] = {
            "messages": [
                {
                    "id": i,
                    "status": messages[i].status.value if i in messages else "gone",
                    "why": (messages[i].last_error or messages[i].wait_reason) if i in messages else None,
                }
                for i in message_ids.get(result_id, [])
            ],
            "delivery": delivery_outcome(delivery) if result_id in delivery_ids else None,
        }
    return found_ups


def delivery_outcome(delivery: WebhookDelivery | None) -> dict:
    """A webhook delivery's outcome: ``state`` (delivered, failed, retrying,
    waiting, gone) and the words to show."""
    if delivery is None:
        return {"state": "gone", "text": "no longer stored"}
    tries = f"{delivery.attempts} attempt{'' if delivery.attempts == 1 else 's'}"
    if delivery.status == "delivered":
        return {"state": "delivered", "text": f"delivered at {iso_utc(delivery.delivered_at)} ({tries})"}
    if delivery.status == "failed":
        return {
            "state": "failed",
            "text": f"failed after {tries}: {delivery.last_error or 'no reason stored'}",
        }
    if delivery.attempts == 0:
        return {"state": "waiting", "text": "waiting for its first try"}
    if delivery.last_error is None:
        return {"state": "retrying", "text": f"being tried now (attempt {delivery.attempts})"}
    return {
        "state": "retrying",
        "text": f"still retrying: attempt {delivery.attempts} failed ({delivery.last_error}); "
        f"next try at {iso_utc(delivery.next_attempt_at)}",
    }
