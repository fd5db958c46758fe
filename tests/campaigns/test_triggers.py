"""When campaigns are due: holiday dates (lunar ones as published), offsets, cron weekdays."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from edm.campaigns.calendar import HOLIDAYS, holiday_date
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import due_on, next_due
from edm.cli import main

# Published by the State Council's holiday notices / the Hong Kong Observatory's lunar tables.
PUBLISHED = {
    "spring_festival": ["2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03"],
    "lantern_festival": ["2025-02-12", "2026-03-03", "2027-02-20", "2028-02-09", "2029-02-27", "2030-02-17"],
    "dragon_boat": ["2025-05-31", "2026-06-19", "2027-06-09", "2028-05-28", "2029-06-16", "2030-06-05"],
    "mid_autumn": ["2025-10-06", "2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12"],
    "easter": ["2025-04-20", "2026-04-05", "2027-03-28", "2028-04-16", "2029-04-01", "2030-04-21"],
    "thanksgiving_us": ["2025-11-27", "2026-11-26", "2027-11-25", "2028-11-23", "2029-11-22", "2030-11-28"],
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_holidays_fall_on_their_published_dates(name: Any) -> None:
    assert [holiday_date(name, year).isoformat() for year in range(2025, 2031)] == PUBLISHED[name]


def test_every_holiday_has_a_date_every_year() -> None:
    for name in HOLIDAYS:
        for year in range(2020, 2041):
            assert holiday_date(name, year).year == year


def _campaign(**trigger: Any) -> Campaign:
    base = {"name": "c", "template": "holiday_greeting", "subject": {"en": "Hi"}}
    return Campaign.model_validate({**base, **trigger})


def test_a_holiday_campaign_is_due_on_its_day_only() -> None:
    spring = _campaign(holiday={"name": "spring_festival", "days_before": 3, "timezone": "Asia/Shanghai"})
    due = [day for day in (date(2027, 1, 1) + timedelta(n) for n in range(365)) if due_on(spring, day)]
    assert due == [date(2027, 2, 3)]
    assert next_due(spring, date(2027, 2, 3)) == date(2028, 1, 23)


def test_an_offset_may_cross_into_the_year_before() -> None:
    new_year = _campaign(holiday={"name": "new_year", "days_before": 3})
    assert due_on(new_year, date(2026, 12, 29)) and not due_on(new_year, date(2027, 1, 1))
    assert next_due(new_year, date(2026, 12, 29)) == date(2027, 12, 29)


@pytest.mark.parametrize(
    ("cron", "weekdays"),
    [("0 10 * * 2", {"Tue"}), ("0 9 * * 1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}), ("0 9 * * 0,7", {"Sun"}),
     ("0 9 * * 6", {"Sat"}), ("0 9 * * sat,sun", {"Sat", "Sun"})],
)
def test_cron_days_of_the_week_count_from_sunday_as_in_crontab(cron: str, weekdays: set[str]) -> None:
    campaign = _campaign(schedule={"cron": cron, "timezone": "Asia/Shanghai"})
    week = [date(2027, 2, 1) + timedelta(n) for n in range(7)]
    assert {day.strftime("%a") for day in week if due_on(campaign, day)} == weekdays


def test_without_a_trigger_a_campaign_is_due_any_day_it_is_run() -> None:
    assert due_on(_campaign(), date(2027, 2, 1))


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"holiday": {"name": "spring_festivl"}}, "'spring_festival'"),
        ({"holiday": {"name": "easter", "days_before": 1, "days_after": 1}}, "not both"),
        ({"holiday": {"name": "easter", "timezone": "Asia/Shangai"}}, "unknown time zone"),
        ({"holiday": {"name": "easter"}, "schedule": {"cron": "0 9 * * 1"}}, "give one trigger"),
        ({"schedule": {"cron": "0 9 * * 8"}}, "0 and 7 are Sunday"),
    ],
)
def test_a_wrong_trigger_says_what_is_wrong(trigger: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _campaign(**trigger)


def test_cli_lists_what_is_due_on_a_date(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    (tmp_path / "p" / "campaigns" / "spring.yaml").write_text(
        "name: spring_greeting\ntemplate: holiday_greeting\nsubject: {en: Happy Spring Festival}\n"
        "params: {holiday_en: Spring Festival, holiday_zh: 春节}\n"
        "holiday: {name: spring_festival, days_before: 3, timezone: Asia/Shanghai}\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["campaign", "due", "--date", "2027-02-03",
                                  "--config", str(tmp_path / "p" / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    spring = "spring_greeting: due on 2027-02-03; next 2028-01-23"
    assert (f"{spring} (3 days before the Spring Festival, 09:00 Asia/Shanghai, where observed)"
            in result.output)
    assert "New Year greeting (holiday_greeting): not due on 2027-02-03; next 2027-12-28" in result.output
    # Tuesdays; 3 Feb 2027 is a Wednesday
    assert "Re-engagement (re_engagement): not due on 2027-02-03" in result.output
