"""Moments in the customer's own time zone: their calendar day, the next one, the send window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edm.config import SendWindow


def zone(timezone: str) -> ZoneInfo:
    """The customer's zone; UTC when the stored name is unknown (never a crash mid-plan)."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day(now: datetime, timezone: str) -> date:
    """`now` as a calendar day in `timezone`."""
    return now.astimezone(zone(timezone)).date()


def next_local_day(now: datetime, timezone: str) -> datetime:
    """Midnight at the start of the customer's next day, in UTC."""
    start = datetime.combine(local_day(now, timezone) + timedelta(days=1), time(), zone(timezone))
    return start.astimezone(UTC)


def window_opening(moment: datetime, timezone: str, window: SendWindow) -> datetime:
    """`moment` if it is inside the customer's send window, else when the window next opens (UTC)."""
    local = moment.astimezone(zone(timezone))
    if window.start <= local.time() < window.end:
        return moment
    day = local.date() if local.time() < window.start else local.date() + timedelta(days=1)
    return datetime.combine(day, window.start, zone(timezone)).astimezone(UTC)


def at_hour(moment: datetime, timezone: str, hour: int) -> datetime:
    """The first time at `hour`:00 in the customer's zone from `moment` on (today's if not past, in UTC)."""
    local = moment.astimezone(zone(timezone))
    target = datetime.combine(local.date(), time(hour), zone(timezone))
    if target < local:
        target = datetime.combine(local.date() + timedelta(days=1), time(hour), zone(timezone))
    return target.astimezone(UTC)
