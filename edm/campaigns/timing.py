"""Moments in the customer's own time zone: their calendar day, the next one, the send window, and
when on their day a holiday or life-event message goes out (`Timing`)."""

from __future__ import annotations

from dataclasses import dataclass
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


def window_opening(moment: datetime, timezone: str, window: SendWindow | None) -> datetime:
    """`moment` if it is inside the customer's send window (or there is none, as for service mail),
    else when the window next opens (UTC)."""
    if window is None:
        return moment
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


@dataclass(frozen=True)
class Timing:
    """When a campaign's message to a customer goes out, planned at `now`.

    Without `at`: at `now`. With it: on the customer's calendar day at `now` (or the day in
    `zone`, the trigger's, when it gives one) at `at` there, or at `now` once that has passed,
    since it is still the day: a greeting is never sent at midnight, nor on the day after.
    A preview of a whole `day` takes that day in every zone, at `at`.
    """

    now: datetime
    at: time | None = None
    zone: str | None = None
    day: date | None = None

    def local_day(self, timezone: str) -> date:
        """The day a customer in `timezone` is planned for."""
        return self.day if self.day is not None else local_day(self.now, self.zone or timezone)

    def moment(self, timezone: str) -> datetime:
        """When the message to a customer in `timezone` goes out (UTC)."""
        if self.at is None:
            return self.now
        target = datetime.combine(self.local_day(timezone), self.at, zone(self.zone or timezone))
        return target.astimezone(UTC) if self.day is not None else max(target.astimezone(UTC), self.now)

    def next_day(self, moment: datetime, timezone: str) -> datetime:
        """The customer's day after `moment`'s: its midnight, or `at` on it (for `when_busy: wait`)."""
        if self.at is None:
            return next_local_day(moment, timezone)
        following = local_day(moment, timezone) + timedelta(days=1)
        return datetime.combine(following, self.at, zone(timezone)).astimezone(UTC)
