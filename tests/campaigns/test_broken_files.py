"""Ten (and more) deliberately broken campaign files: each gets a precise error, and the command exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edm.cli import main

HEAD = 'name: broken\ntemplate: win_back\nsubject: {en: "Hi"}\n'
BROKEN = {
    "yaml": ("name: broken\nsubject: [unclosed\n", ":3:1: invalid YAML"),
    "top_key": (HEAD + "subjekt: {en: x}\n", ":4:1: subjekt: unknown key 'subjekt'; did you mean 'subject'?"),
    "audience_key": (HEAD + "audience:\n  any:\n    - tier: high\n",
                     ":6:7: audience.any.0.tier: unknown key 'tier'; did you mean 'tiers'?"),
    "class_value": (HEAD + "audience: {loyalty: lojal}\n",
                    ":4:21: audience.loyalty.0: Input should be 'loyal', 'fairly_loyal'"),
    "range_key": (HEAD + "audience:\n  days_since_last_order: {more: 90}\n",
                  ":5:27: audience.days_since_last_order.more: unknown key 'more'; did you mean 'more_than'"),
    "holiday_name": (HEAD + "holiday: {name: spring_festivl}\n", ":4:17: holiday.name: Input should be"),
    "two_offsets": (HEAD + "holiday: {name: easter, days_before: 1, days_after: 2}\n",
                    ":4:10: holiday: give days_before or days_after, not both"),
    "cron": (HEAD + 'schedule: {cron: "0 9 * * 8"}\n', ":4:18: schedule.cron: day of week '8'"),
    "timezone": (HEAD + "schedule: {cron: '0 9 * * 1', timezone: Asia/Shangai}\n",
                 ":4:41: schedule.timezone: unknown time zone 'Asia/Shangai'"),
    "two_triggers": (HEAD + "schedule: {cron: '0 9 * * 1'}\nlife_event: {name: birthday}\n",
                     ":1:1: (top level): give one trigger"),
    "template": ('name: broken\ntemplate: no_such_template\nsubject: {en: "Hi"}\n', ": template: "),
    "variant_subject": (HEAD + "variants: [{name: b, subject: {zh: 你好}}]\n",
                        ":4:31: variants.0.subject: an 'en' subject is required"),
    "entered_class": (HEAD + "entered: {dimension: loyalty, into: [at_rsik]}\n",
                      ":4:10: entered: loyalty has no class 'at_rsik'"),
    "unquoted_hour": (HEAD + "holiday: {name: easter, at: 10:30}\n",
                      ":4:29: holiday.at: 630 is not a time of day like \"09:00\" (quote it"),
    "hour": (HEAD + "life_event: {name: birthday, at: '25:00'}\n",
             ":4:34: life_event.at: '25:00' is not a time of day"),
    "national_day": (HEAD + "holiday: {name: national_day}\n",
                     ":4:10: holiday: national_day needs a country: customer"),
    "country": (HEAD + "holiday: {name: national_day, country: China}\n",
                ":4:40: holiday.country: 'China' is not an ISO 3166 two-letter country code"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_names_file_line_and_field(tmp_path: Path, case: str) -> None:
    text, expected = BROKEN[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["campaign", "validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert f"{path}{expected}" in result.output, result.output
    assert "Traceback" not in result.output
    for internal in ("Value error", "input_value=", "errors.pydantic.dev", "Assertion failed"):
        assert internal not in result.output
