"""Date filters for templates: a day moved by whole days, written out in the reader's language."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.dates import add_days, long_date
from edm.errors import TemplateError
from edm.render import Renderer

FESTIVAL = date(2027, 2, 6)


def test_long_dates_in_english_and_chinese() -> None:
    assert long_date(FESTIVAL) == "Saturday, 6 February 2027"
    assert long_date(FESTIVAL, "en", weekday=False) == "6 February 2027"
    assert long_date(FESTIVAL, "zh-Hans") == "2027年2月6日（星期六）"
    assert long_date(date(2027, 2, 14), "zh-Hant") == "2027年2月14日（星期日）"
    assert long_date(FESTIVAL, "zh-Hant", weekday=False) == "2027年2月6日"
    assert long_date(FESTIVAL, "fr") == "2027-02-06"  # no wording of our own: the ISO date


def test_add_days_takes_whole_numbers_written_either_way() -> None:
    assert add_days(FESTIVAL, -10) == date(2027, 1, 27)
    assert add_days(FESTIVAL, "7") == date(2027, 2, 13)
    for wrong in (1.5, "two", True, None):
        with pytest.raises(ValueError, match="whole number of days"):
            add_days(FESTIVAL, wrong)


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(2199, 12, 31)), st.integers(-3650, 3650))
def test_moving_and_writing_any_day_never_fails(day: date, days: int) -> None:
    moved = add_days(day, days)
    assert (moved - day).days == days
    assert str(moved.year) in long_date(moved, "en") and f"{moved.year}年" in long_date(moved, "zh-Hans")


def test_templates_use_them_in_the_sandbox_and_a_wrong_use_is_a_template_error() -> None:
    renderer = Renderer()
    context = {"occasion": {"date": FESTIVAL}, "params": {"before": 2}}
    source = "{{ occasion.date | add_days(-params.before) | long_date('en', weekday=False) }}"
    assert renderer.render_subject(source, context) == "4 February 2027"
    with pytest.raises(TemplateError, match="whole number of days"):
        renderer.render_subject("{{ occasion.date | add_days('soon') }}", context)
