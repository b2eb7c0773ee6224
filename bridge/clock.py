"""The one clock: stored times are naive UTC (MariaDB DATETIME, compared with
Gammu's TIMESTAMP columns on a connection set to UTC), shown as ISO 8601 with
a Z. A ground module: it imports nothing of the project."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso_utc(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as every interface shows it: ISO 8601 + Z."""
    return value.isoformat() + "Z" if value else None
