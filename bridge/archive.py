"""The message archive: filtered lists, the two operator actions on a
message (cancel, retry), CSV rows and the counts a dashboard shows.

Pure functions of a Session, so the admin, the CLI and the API can share
them. ``viewer`` is the user looking (an admin sees everything, a user their
own messages); ``None`` is the operator at the command line.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from . import gammu_codes, webhooks
from .clock import local_day_bounds, utcnow
from .db import execute_dml
from .errors import ArchiveError
from .messages import stuck
from .models import (
    Message,
    MessageAttempt,
    MessageStatus,
    Outbox,
    OutboxMultipart,
    SentItem,
    Sim,
    User,
)

# A message waiting this long and not yet sent is "stuck" (settings.stuck_after).
STUCK_AFTER = timedelta(minutes=10)
# Statuses counted as "left the modem" (a status report may come later).
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
CSV_COLUMNS = (
    "id",
    "created_at",
    "user",
    "to",
    "status",
    "sim",
    "parts",
    "attempts",
    "attempts_allowed",
    "sent_at",
    "finished_at",
    "last_error",
    "text",
)


@dataclasses.dataclass(frozen=True)
class MessageFilter:
    status: MessageStatus | None = None
    sim_id: int | None = None
    user_id: int | None = None
    created_from: date | None = None  # inclusive, calendar days in ``time_zone``
    created_to: date | None = None  # inclusive
    time_zone: str | None = None  # the person's (users.timezone); None: UTC
    search: str = ""  # part of the number or of the text
    stuck_after: timedelta | None = None  # only messages stuck this long (see messages.stuck)


def _visible_to(query: Select, viewer: User | None) -> Select:
    if viewer is not None and not viewer.is_admin:
        query = query.where(Message.user_id == viewer.id)
    return query


def _filtered(query: Select, wanted: MessageFilter, viewer: User | None) -> Select:
    query = _visible_to(query, viewer)
    if wanted.status is not None:
        query = query.where(Message.status == wanted.status)
    if wanted.sim_id is not None:
        query = query.where(Message.sim_id == wanted.sim_id)
    if wanted.user_id is not None:
        query = query.where(Message.user_id == wanted.user_id)
    if wanted.created_from is not None:
        query = query.where(Message.created_at >= local_day_bounds(wanted.created_from, wanted.time_zone)[0])
    if wanted.created_to is not None:
        query = query.where(Message.created_at < local_day_bounds(wanted.created_to, wanted.time_zone)[1])
    if wanted.stuck_after is not None:
        query = query.where(stuck(utcnow(), wanted.stuck_after))
    search = wanted.search.strip()
    if search:
        query = query.where(
            or_(
                Message.recipient.contains(search, autoescape=True),
                Message.text.contains(search, autoescape=True),
            )
        )
    return query


def count_messages(session: Session, wanted: MessageFilter, viewer: User | None) -> int:
    return session.scalar(_filtered(select(func.count()).select_from(Message), wanted, viewer))


def list_messages(
    session: Session, wanted: MessageFilter, viewer: User | None, *, limit: int = 50, offset: int = 0
) -> list[dict]:
    """Newest first; one dict per message with the user's login and SIM name."""
    query = _filtered(
        select(Message, User.login, Sim.name)
        .join(User, User.id == Message.user_id)
        .outerjoin(Sim, Sim.id == Message.sim_id),
        wanted,
        viewer,
    )
    rows = session.execute(query.order_by(Message.id.desc()).limit(limit).offset(offset)).all()
    return [_row(message, login, sim) for message, login, sim in rows]


def iter_csv_rows(
    session: Session, wanted: MessageFilter, viewer: User | None, *, batch: int = 1000
) -> Iterator[tuple]:
    """Every matching message as a CSV row (``CSV_COLUMNS``), oldest first,
    read in keyset batches so a large export never sits in memory."""
    after = 0
    while True:
        rows = session.execute(
            _filtered(
                select(Message, User.login, Sim.name)
                .join(User, User.id == Message.user_id)
                .outerjoin(Sim, Sim.id == Message.sim_id)
                .where(Message.id > after),
                wanted,
                viewer,
            )
            .order_by(Message.id)
            .limit(batch)
        ).all()
        for message, login, sim in rows:
            row = _row(message, login, sim)
            yield tuple(row[c] if row[c] is not None else "" for c in CSV_COLUMNS)
        if len(rows) < batch:
            return
        after = rows[-1][0].id


def _row(message: Message, login: str, sim: str | None) -> dict:
    return {
        "id": message.id,
        "created_at": message.created_at,
        "user": login,
        "to": message.recipient,
        "status": message.status.value,
        "sim": sim,
        "parts": message.parts,
        "attempts": message.attempts_made,
        "attempts_allowed": message.attempts_allowed,
        "sent_at": message.sent_at,
        "finished_at": message.finished_at,
        "last_error": message.last_error,
        "wait_reason": message.wait_reason,
        "send_at": message.send_at,
        "text": message.text,
    }


def cancel(session: Session, message_id: int, viewer: User | None) -> None:
    """Cancel a message that no SIM has taken yet. The UPDATE repeats the
    condition, so a dispatcher claiming it at the same moment either wins
    (and the cancel is refused) or never sees it. Caller commits."""
    changed = execute_dml(
        session,
        _visible_update(message_id, viewer)
        .where(Message.status == MessageStatus.QUEUED)
        .values(
            status=MessageStatus.CANCELLED,
            finished_at=utcnow(),
            wait_reason=None,
            last_error="cancelled by an operator",
        ),
    ).rowcount
    if changed != 1:
        raise ArchiveError(f"message {message_id} is not queued any more (or not yours)")
    webhooks.message_event(session, [message_id], "sms:failed")


def retry(session: Session, message_id: int, viewer: User | None, *, now: datetime | None = None) -> None:
    """Send a failed message again: back to the queue with one more attempt
    allowed, in the same conditional UPDATE. Caller commits."""
    now = now or utcnow()
    changed = execute_dml(
        session,
        _visible_update(message_id, viewer)
        .where(Message.status == MessageStatus.FAILED)
        .values(
            status=MessageStatus.QUEUED,
            due_at=now,
            finished_at=None,
            wait_reason=None,
            attempts_allowed=func.greatest(Message.attempts_allowed, Message.attempts_made) + 1,
        ),
    ).rowcount
    if changed != 1:
        raise ArchiveError(f"message {message_id} has not failed (or is not yours)")


def _visible_update(message_id: int, viewer: User | None):
    statement = update(Message).where(Message.id == message_id)
    if viewer is not None and not viewer.is_admin:
        statement = statement.where(Message.user_id == viewer.id)
    return statement.execution_options(synchronize_session=False)


def message_parts(session: Session, message_id: int) -> list[dict]:
    """Every SMS part of every attempt, as gammu-smsd sees it: sent parts
    from ``sentitems`` (its Status and StatusError, with what they mean:
    ``gammu_codes``), parts still waiting from ``outbox``/``outbox_multipart``."""
    attempts = session.execute(
        select(MessageAttempt.id, MessageAttempt.outbox_id, Sim.name)
        .join(Sim, Sim.id == MessageAttempt.sim_id)
        .where(MessageAttempt.message_id == message_id)
        .order_by(MessageAttempt.id)
    ).all()
    if not attempts:
        return []
    outbox_ids = [a.outbox_id for a in attempts]
    sim_of = {a.outbox_id: a.name for a in attempts}
    parts: dict[int, list[dict]] = defaultdict(list)
    for item in session.scalars(
        select(SentItem).where(SentItem.id.in_(outbox_ids)).order_by(SentItem.id, SentItem.sequence_position)
    ):
        parts[item.id].append(
            {
                "part": item.sequence_position,
                "status": item.status,
                "status_meaning": gammu_codes.status_meaning(item.status),
                "error_code": item.status_error,
                "error_meaning": gammu_codes.code_meaning(item.status_error),
                "at": item.sending_datetime,
                "coding": item.coding,
                "udh": item.udh,
                "text": item.text_decoded,
            }
        )
    for row in session.scalars(select(Outbox).where(Outbox.id.in_(outbox_ids))):
        if row.id not in parts:
            parts[row.id].append(
                {
                    "part": 1,
                    "status": "in outbox",
                    "status_meaning": "waiting for its SIM's daemon to send it",
                    "error_code": None,
                    "error_meaning": None,
                    "at": row.sending_datetime,
                    "coding": row.coding,
                    "udh": row.udh,
                    "text": row.text_decoded,
                }
            )
            for more in session.scalars(
                select(OutboxMultipart)
                .where(OutboxMultipart.id == row.id)
                .order_by(OutboxMultipart.sequence_position)
            ):
                parts[row.id].append(
                    {
                        "part": more.sequence_position,
                        "status": "in outbox",
                        "status_meaning": "waiting for its SIM's daemon to send it",
                        "error_code": None,
                        "error_meaning": None,
                        "at": None,
                        "coding": more.coding,
                        "udh": more.udh,
                        "text": more.text_decoded,
                    }
                )
    return [
        {**part, "outbox_id": outbox_id, "sim": sim_of[outbox_id]}
        for outbox_id in outbox_ids
        for part in parts.get(outbox_id, [])
    ]


def state_counts(
    session: Session,
    viewer: User | None,
    *,
    now: datetime | None = None,
    stuck_after: timedelta = STUCK_AFTER,
    days: int = 30,
) -> dict[str, int]:
    """Queued now, stuck (waiting longer than ``stuck_after`` since
    acceptance and not yet sent, see ``messages.stuck``), failed in the last
    ``days``."""
    now = now or utcnow()
    count = select(func.count()).select_from(Message)
    queued = _visible_to(count.where(Message.status == MessageStatus.QUEUED), viewer)
    return {
        "queued": session.scalar(queued),
        "stuck": session.scalar(_visible_to(count.where(stuck(now, stuck_after)), viewer)),
        "failed": session.scalar(
            _visible_to(
                count.where(
                    Message.status == MessageStatus.FAILED, Message.finished_at >= now - timedelta(days=days)
                ),
                viewer,
            )
        ),
    }


def daily_counts(
    session: Session, viewer: User | None, *, days: int = 30, now: datetime | None = None
) -> dict[str, list]:
    """Messages sent, delivered and failed per UTC day, oldest day first,
    each counted on the day it happened. Keys: days, sent, delivered, failed."""
    today = (now or utcnow()).date()
    first = today - timedelta(days=days - 1)
    series = {}
    for name, moment, statuses in (
        ("sent", Message.sent_at, SENT_STATUSES),
        ("delivered", Message.finished_at, (MessageStatus.DELIVERED,)),
        ("failed", Message.finished_at, (MessageStatus.FAILED,)),
    ):
        day = func.date(moment)
        found = dict(
            session.execute(
                _visible_to(
                    select(day, func.count())
                    .where(Message.status.in_(statuses), moment >= first)
                    .group_by(day),
                    viewer,
                )
            ).all()
        )
        series[name] = [found.get(first + timedelta(days=n), 0) for n in range(days)]
    return {"days": [first + timedelta(days=n) for n in range(days)], **series}


def sim_counts(
    session: Session, viewer: User | None, *, days: int = 30, now: datetime | None = None
) -> list[dict]:
    """Per SIM over the last ``days``: messages sent, delivered, failed."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(
        _visible_to(
            select(Sim.name, Message.status, func.count())
            .join(Sim, Sim.id == Message.sim_id)
            .where(Message.created_at >= since, Message.status.in_((*SENT_STATUSES, MessageStatus.FAILED)))
            .group_by(Sim.name, Message.status),
            viewer,
        )
    ).all()
    per_sim: dict[str, dict] = defaultdict(lambda: {"sent": 0, "delivered": 0, "failed": 0})
    for name, status, count in rows:
        if status in SENT_STATUSES:
            per_sim[name]["sent"] += count
        if status == MessageStatus.DELIVERED:
            per_sim[name]["delivered"] += count
        if status == MessageStatus.FAILED:
            per_sim[name]["failed"] += count
    return [{"sim": name, **per_sim[name]} for name in sorted(per_sim)]
