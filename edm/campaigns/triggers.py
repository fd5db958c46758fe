"""Which days a campaign is due on, which occurrence the scheduler plans at a moment, and whose day it is.

A cron schedule or a holiday names the campaign's days; a life-event campaign (birthdays,
anniversaries) is due every day: which customers' day it is, each in their own time zone,
is the planner's question (`life_event_filter`). Days are calendar days in the trigger's
time zone (UTC for a schedule without one), the same unit as an occurrence: a campaign due
on a day is planned at most once for it.

A holiday without a `timezone` falls on each customer's own calendar: the day comes first
in Kiritimati (UTC+14) and last in Baker Island (UTC-12), so the scheduler plans it from
the UTC day before to the UTC day after (`occasion`), each customer while it is the day
where they are, for `at` o'clock there (`timing_for`). The occurrence is the campaign's day
throughout, so planning again queues nothing new.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, or_

from edm.campaigns.calendar import NATIONAL_DAYS
from edm.campaigns.observance import keeps_festival, keeps_national_day
from edm.campaigns.schema import Campaign, HolidayTrigger, LifeEvent
from edm.campaigns.timing import Timing
from edm.store import Customer, CustomerProfile
from edm.store.sql import month_day


def due_on(campaign: Campaign, day: date) -> bool:
    """Whether `campaign` fires on `day`, a calendar day in the campaign's time zone (for a holiday
    without one: somewhere, for someone; a national day of `country: customer`, in some country)."""
    if campaign.holiday is not None:
        return holiday_falls_on(campaign.holiday, day)
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


def occurrence_of(campaign: Campaign, now: datetime) -> date:
    """The campaign's local calendar day at `now` (the trigger's zone, else UTC)."""
    trigger = campaign.schedule or campaign.holiday
    timezone = (trigger.timezone if trigger else None) or "UTC"
    return now.astimezone(ZoneInfo(timezone)).date()


def occasion(campaign: Campaign, now: datetime) -> date | None:
    """The occurrence the scheduler plans at `now`; None when the campaign is not due then."""
    holiday = campaign.holiday
    if holiday is not None and holiday.timezone is None:  # it is the day somewhere on Earth
        today = now.astimezone(UTC).date()
        days = (today - timedelta(days=1), today, today + timedelta(days=1))
        return next((day for day in days if holiday_falls_on(holiday, day)), None)
    day = occurrence_of(campaign, now)
    return day if due_on(campaign, day) else None


def timing_for(campaign: Campaign, now: datetime, *, due: bool, whole_day: date | None = None) -> Timing:
    """How the planner times `campaign` at `now`: holidays (when due; a marketer's run by name on
    another day sends at once) and life events at their `at`, everything else at once.
    `whole_day`: a preview of that day in every zone rather than the moment `now`."""
    trigger: HolidayTrigger | LifeEvent | None = campaign.life_event
    if campaign.holiday is not None and due:
        trigger = campaign.holiday
    if trigger is None:
        return Timing(now)
    zone = trigger.timezone if isinstance(trigger, HolidayTrigger) else None
    return Timing(now, at=trigger.at, zone=zone, day=whole_day)


def holiday_falls_on(trigger: HolidayTrigger, day: date) -> bool:
    """Whether `day` is the campaign's day for someone (a national day of `country: customer`: in
    some country of `NATIONAL_DAYS`)."""
    if trigger.country == "customer":
        return any(_is_campaign_day(trigger, day, country) for country in NATIONAL_DAYS)
    return _is_campaign_day(trigger, day, None)


def customers_holiday_on(trigger: HolidayTrigger, day: date, country: str | None) -> bool:
    """Whether `day` is the campaign's day for a customer in `country`. Only a national day of
    `country: customer` differs by country; a customer whose country has none, or is unknown, has none."""
    if trigger.country == "customer" and country is None:
        return False
    return _is_campaign_day(trigger, day, country)


def _is_campaign_day(trigger: HolidayTrigger, day: date, country: str | None) -> bool:
    return any(trigger.day_in(year, country) == day for year in (day.year - 1, day.year, day.year + 1))


def keeps_holiday(trigger: HolidayTrigger, country: str | None, day: date) -> bool:
    """Whether a customer in `country` keeps the holiday of the campaign's `day` (for
    `only_where_observed`); a customer of unknown country is given the benefit of the doubt."""
    if country is None:
        return True
    year = (day - trigger.offset).year
    if trigger.name == "national_day":
        return keeps_national_day(country, None if trigger.country == "customer" else trigger.country, year)
    return keeps_festival(country, trigger.name, year)


def occasion_date(campaign: Campaign, occurrence: date) -> date:
    """The holiday or the customer's own day a message of `occurrence` is about (templates'
    `occasion.date`): the holiday whose campaign day is nearest the occurrence (the same day when
    the campaign is due; a run by hand a week early still names this year's festival); the
    occurrence itself for other triggers."""
    holiday = campaign.holiday
    if holiday is not None:
        if holiday.country == "customer":  # the customer's country's day: the occurrence was theirs
            return occurrence - holiday.offset
        days = [holiday.day_in(year) for year in (occurrence.year - 1, occurrence.year, occurrence.year + 1)]
        nearest = min((day for day in days if day is not None), key=lambda day: abs(day - occurrence),
                      default=occurrence)  # no date known in those years: the occurrence's
        return nearest - holiday.offset
    if campaign.life_event is not None:
        return occurrence + timedelta(days=campaign.life_event.days_before)
    return occurrence


def life_event_filter(
    event: LifeEvent, day_of: Callable[[str], date], timezones: Iterable[str]
) -> ColumnElement[bool]:
    """Customers whose birthday or anniversary is their day (`day_of` their time zone: today there)
    plus `days_before`.

    One clause per time zone the customers live in. A 29 February falls on the 28th in
    other years; an anniversary needs at least one full year.
    """
    column = _EVENT_COLUMNS[event.name]
    clauses = []
    for timezone in timezones:
        target = day_of(timezone) + timedelta(days=event.days_before)
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
