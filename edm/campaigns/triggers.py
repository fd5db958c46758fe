"""Which days a campaign is due on: its cron schedule, its holiday, or (with neither) any day.

A life-event campaign (birthdays, anniversaries) is due every day: which customers'
day it is, each in their own time zone, is the planner's question (`life_event_filter`).

Days are the campaign's local calendar days (its trigger's time zone), the same unit
as an occurrence: a campaign due on a day is planned at most once for it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, or_

from edm.campaigns.schema import Campaign, LifeEvent
from edm.campaigns.timing import local_day
from edm.store import Customer, CustomerProfile
from edm.store.sql import month_day


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


def life_event_filter(event: LifeEvent, now: datetime, timezones: Iterable[str]) -> ColumnElement[bool]:
    """Customers whose birthday or anniversary is today (plus `days_before`) in their own time zone.

    One clause per time zone the customers live in. A 29 February falls on the 28th in
    other years; an anniversary needs at least one full year.
    """
    column = _EVENT_COLUMNS[event.name]
    clauses = []
    for timezone in timezones:
        target = local_day(now, timezone) + timedelta(days=event.days_before)
        days = {f"{target:%m-%d}"}
        if (target.month, target.day) == (2, 28) and not calendar.isleap(target.year):
            days.add("02-29")
        clause = and_(Customer.timezone == timezone, month_day(column).in_(sorted(days)))
        if event.name == "founding_anniversary":  # from the first anniversary on
            clause = and_(clause, column < date(target.year, 1, 1))
        elif event.name == "first_order_anniversary":
            clause = and_(clause, column < datetime(target.year, 1, 1, tzinfo=UTC))
        clauses.append(clause)
    return or_(false(), *clauses)


_EVENT_COLUMNS: dict[str, Any] = {
    "birthday": Customer.birthday,
    "founding_anniversary": Customer.founded_on,
    "first_order_anniversary": CustomerProfile.first_order_at,
}
