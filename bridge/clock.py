"""The one clock: stored times are naive UTC (MariaDB DATETIME, compared with
Gammu's TIMESTAMP columns on a connection set to UTC), shown as ISO 8601 with
a Z to programs and as "2026-11-25 09:35:24 MSK" in a person's time zone
to people. A ground module: it imports nothing of the project.

Time zones are IANA names checked where they are set (users.timezone); a
name this host's zoneinfo no longer knows is shown in UTC, never guessed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# How every page shows a moment; the zone's abbreviation (or offset) follows.
DISPLAY_FORMAT = "%Y-%m-%d %H:%M:%S"
# A moment as iso_utc writes it into stored text (wait reasons, errors,
# alert details), which programs read too: people get it shown in their zone.
_ISO_IN_TEXT = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso_utc(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as every interface shows it: ISO 8601 + Z."""
    return value.isoformat() + "Z" if value else None


def zone(name: str | None) -> tzinfo:
    """The zone of an IANA name; UTC for None, blank or a name not known here."""
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_stored(value: datetime | str) -> datetime:
    """A stored time, or its ISO form (with or without Z), as naive UTC."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.removesuffix("Z"))
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    return value


def show_time(value: datetime | str | None, zone_name: str | None = None) -> str:
    """A stored time as people read it, in ``zone_name``: "2026-11-25 09:35:24 MSK"."""
    if value is None or value == "":
        return ""
    local = parse_stored(value).replace(tzinfo=UTC).astimezone(zone(zone_name))
    return f"{local.strftime(DISPLAY_FORMAT)} {local.tzname() or 'UTC'}"


def local_day_bounds(day: date, zone_name: str | None = None) -> tuple[datetime, datetime]:
    """The stored (naive UTC) start and end of a calendar day in ``zone_name``:
    the end is the next day's start (a day may be 23 or 25 hours long)."""
    here = zone(zone_name)

    def start(of: date) -> datetime:
        return datetime.combine(of, datetime.min.time(), tzinfo=here).astimezone(UTC).replace(tzinfo=None)

    return start(day), start(day + timedelta(days=1))


def from_local(value: datetime, zone_name: str | None = None) -> datetime:
    """A wall-clock time typed in ``zone_name`` (naive), as stored (naive UTC)."""
    return value.replace(tzinfo=zone(zone_name)).astimezone(UTC).replace(tzinfo=None)


def show_times_in(text: str | None, zone_name: str | None = None) -> str:
    """``text`` with every ISO UTC moment in it ("…held until
    2026-11-26T06:00:00Z") as ``show_time`` shows it in ``zone_name``."""
    if not text:
        return ""
    return _ISO_IN_TEXT.sub(lambda found: show_time(found.group(0), zone_name), text)
