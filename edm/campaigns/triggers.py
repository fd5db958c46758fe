"""Which days a campaign is due on: its cron schedule, its holiday, or (with neither) any day.

Days are the campaign's local calendar days (its trigger's time zone), the same unit
as an occurrence: a campaign due on a day is planned at most once for it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edm.campaigns.schema import Campaign


def due_on(campaign: Campaign, day: date) -> bool:
    """Whether `campaign` fires on `day`, a calendar day in the campaign's time zone."""
    if campaign.holiday is not None:
        return any(campaign.holiday.day_in(year) == day for year in (day.year - 1, day.year, day.year + 1))
    if campaign.schedule is not None:
        zone = ZoneInfo(campaign.schedule.timezone)
        start = datetime.combine(day, time(), zone)
        fire = campaign.schedule.trigger().get_next_fire_time(None, start)
        return fire is not None and fire < start + timedelta(days=1)
    return True


def next_due(campaign: Campaign, after: date, *, within_days: int = 400) -> date | None:
    """The first day after `after` the campaign is due on, within `within_days` (None: not within)."""
    for offset in range(1, within_days + 1):
        day = after + timedelta(days=offset)
        if due_on(campaign, day):
            return day
    return None
