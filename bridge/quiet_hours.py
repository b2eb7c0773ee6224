"""Quiet hours: a user's send window, the local hours in which their texts
may go out (say 09:00-21:00 in Europe/Moscow); outside it they are held.

Invariants:
- A window is [start, end) in local wall-clock time of an IANA time zone,
  read with ``zoneinfo``, so daylight saving time moves it with the clocks.
  ``end`` before ``start`` spans midnight (22:00-06:00); equal ones are
  refused (empty, or the whole day: no window is what that means).
- Times in and out are naive UTC, like every stored time.
- A wall-clock time that a DST change skips is read with the offset before
  the change (``fold=0``), so the window opens at the first instant after the gap.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import UserError

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


@dataclasses.dataclass(frozen=True)
class SendWindow:
    start: time
    end: time
    timezone: str

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"

    def opens_at(self, at: datetime) -> datetime | None:
        """None when a text may go out at ``at`` (naive UTC); otherwise when
        the window next opens (naive UTC)."""
        zone = ZoneInfo(self.timezone)
        local = at.replace(tzinfo=UTC).astimezone(zone)
        if self._inside(local.time().replace(tzinfo=None)):
            return None
        day = local.date() if local.time().replace(tzinfo=None) < self.start else local.date() + timedelta(1)
        opening = datetime.combine(day, self.start, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        return max(opening, at)

    def _inside(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def parse_window(raw: str) -> tuple[time, time]:
    """ "09:00-21:00" into its start and end."""
    found = _WINDOW.match(raw)
    if not found:
        raise UserError("a send window is HH:MM-HH:MM, e.g. 09:00-21:00", field="send_window")
    hour1, minute1, hour2, minute2 = map(int, found.groups())
    try:
        start, end = time(hour1, minute1), time(hour2, minute2)
    except ValueError:
        raise UserError(f"{raw.strip()!r} is not a time of day", field="send_window") from None
    if start == end:
        raise UserError(
            "a send window needs a start and an end that differ; 'none' allows any time",
            field="send_window",
        )
    return start, end


def check_timezone(name: str) -> str:
    """An IANA time zone name, as zoneinfo knows it ("Europe/Moscow", "UTC")."""
    name = name.strip()
    if name not in available_timezones() and name != "UTC":
        raise UserError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Moscow", field="timezone"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {name!r}", field="timezone") from None
    return name
