"""The worker's heartbeat: when each of its jobs last finished a pass.

The worker records a pass (at most every ``RECORD_EVERY`` seconds per job,
so a dispatch woken many times a second does not write as often); the web
app reads it for /readyz, /metrics and worker:down, since a dead worker
cannot say it died. Times are the recording host's naive UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.orm import Session

from .clock import utcnow
from .models import WorkerPass

RECORD_EVERY = 5.0


def record(session: Session, job: str, now: datetime | None = None) -> None:
    """``job`` finished a pass at ``now``; the caller commits."""
    now = now or utcnow()
    statement = mysql_insert(WorkerPass).values(job=job, last_pass_at=now)
    session.execute(statement.on_duplicate_key_update(last_pass_at=statement.inserted.last_pass_at))


def last_passes(session: Session) -> dict[str, datetime]:
    """Every job's last pass, by job name."""
    return dict(session.execute(select(WorkerPass.job, WorkerPass.last_pass_at)).all())


def last_pass(session: Session) -> datetime | None:
    """The worker's latest pass of any job (None: it never ran)."""
    return session.scalar(select(func.max(WorkerPass.last_pass_at)))


def seconds_since_pass(session: Session, now: datetime | None = None) -> float | None:
    last = last_pass(session)
    return None if last is None else max(0.0, ((now or utcnow()) - last).total_seconds())
