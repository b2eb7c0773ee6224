"""Shared steps of the end-to-end tests: run the jobs as the worker would
and read back what gammu-smsd did."""

from __future__ import annotations

from sqlalchemy import func, select

from bridge.jobs.dispatch import dispatch
from bridge.jobs.harvest import harvest
from bridge.models import Message, MessageStatus, Outbox, SendRequest, SentItem
from tests.conftest import wait_for


def dispatch_all(sessions, settings) -> int:
    total = 0
    while True:
        with sessions.begin() as session:
            result = dispatch(session, settings)
        total += result.dispatched
        if result.claimed < settings.dispatch_batch:
            return total


def harvest_until(sessions, ids, statuses=(MessageStatus.SENT,), timeout=20.0):
    """Run harvest passes until every message id has one of ``statuses``."""

    def done():
        with sessions.begin() as session:
            harvest(session)
            rows = session.execute(select(Message.id, Message.status).where(Message.id.in_(ids))).all()
        return len(rows) == len(ids) and all(s in statuses for _, s in rows)

    wait_for(done, timeout=timeout, what=f"messages {ids} to reach {statuses}")


def sent_parts(sessions, message_id):
    """sentitems rows gammu-smsd wrote for a message, in part order."""
    with sessions.begin() as session:
        return session.scalars(
            select(SentItem)
            .where(SentItem.creator_id == str(message_id))
            .order_by(SentItem.id, SentItem.sequence_position)
        ).all()


def stored_counts(sessions) -> tuple[int, int, int]:
    with sessions.begin() as session:
        return (
            session.scalar(select(func.count()).select_from(Message)),
            session.scalar(select(func.count()).select_from(SendRequest)),
            session.scalar(select(func.count()).select_from(Outbox)),
        )
