"""Dates and times as Chinese and Western tools write them: every spelling reads back the moment it
was written from, the fast column readers agree with the per-cell rules, and doubtful cells are
refused with a reason, never guessed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edm.customers import fields as f
from edm.customers.encodings import choose, commonness

PROPERTY = settings(derandomize=True, max_examples=200)
MOMENTS = st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2199, 12, 31, 23, 59))


def _day_month_year(d: date, order: str) -> str:
    return f"{d.day}/{d.month}/{d.year}" if order == "dmy" else f"{d.month}/{d.day}/{d.year}"


DATE_WRITERS: dict[str, Callable[[date], str]] = {
    "iso": date.isoformat,
    "slashes": lambda d: f"{d.year}/{d.month}/{d.day}",
    "padded slashes": lambda d: d.strftime("%Y/%m/%d"),
    "dashes unpadded": lambda d: f"{d.year}-{d.month}-{d.day}",
    "dots": lambda d: f"{d.year}.{d.month}.{d.day}",
    "chinese": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "compact": lambda d: d.strftime("%Y%m%d"),
    "excel": lambda d: str((d - date(1899, 12, 30)).days),
}
TIME_WRITERS: dict[str, Callable[[datetime], str]] = {
    "slashes": lambda m: f"{m.year}/{m.month}/{m.day} {m.hour}:{m.minute:02d}",
    "slashes seconds": lambda m: f"{m.year}/{m.month}/{m.day} {m:%H:%M:%S}",
    "chinese": lambda m: f"{m.year}年{m.month}月{m.day}日 {m:%H:%M}",
    "chinese words": lambda m: f"{m.year}年{m.month}月{m.day}日{m.hour}时{m.minute}分",
    "iso": lambda m: m.strftime("%Y-%m-%d %H:%M:%S"),
    "excel": lambda m: str((m - datetime(1899, 12, 30)) / timedelta(days=1)),
}


@PROPERTY
@given(MOMENTS.map(datetime.date), st.sampled_from(sorted(DATE_WRITERS)))
def test_every_date_spelling_reads_back_its_date(day: date, spelling: str) -> None:
    text = DATE_WRITERS[spelling](day)
    if spelling == "excel" and 1000 <= int(text) <= 2999:  # by design: more likely a year
        with pytest.raises(ValueError, match="could be the year"):
            f.parse_date(text)
        return
    assert f.parse_date(text) == day
    assert f.parse_timestamp(text) == datetime(day.year, day.month, day.day, tzinfo=UTC)


@PROPERTY
@given(MOMENTS.map(lambda m: m.replace(second=m.second if m.microsecond % 2 else 0, microsecond=0)),
       st.sampled_from(sorted(TIME_WRITERS)))
def test_every_date_and_time_spelling_reads_back_its_moment(moment: datetime, spelling: str) -> None:
    text = TIME_WRITERS[spelling](moment)
    if spelling in ("slashes", "chinese", "chinese words"):
        moment = moment.replace(second=0)
    assert f.parse_timestamp(text) == moment.replace(tzinfo=UTC)
    assert f.parse_date(text) == moment.date()  # a date column keeps the day


@PROPERTY
@given(MOMENTS.map(datetime.date), st.sampled_from(["dmy", "mdy"]))
def test_day_and_month_first_read_back_as_configured(day: date, order: str) -> None:
    text = _day_month_year(day, order)
    assert f.parse_date(text, order) == day
    unambiguous = day.day > 12 or day.day == day.month
    if unambiguous:
        assert f.parse_date(text) == day
    else:
        with pytest.raises(ValueError, match=r"could be .* set imports\.date_format to dmy or mdy"):
            f.parse_date(text)


SPELLED = st.one_of(
    MOMENTS.flatmap(lambda m: st.sampled_from([w(m.date()) for w in DATE_WRITERS.values()]
                                              + [w(m) for w in TIME_WRITERS.values()])),
    st.from_regex(r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}( [0-9]{1,2}:[0-9]{2})?", fullmatch=True),
    st.from_regex(r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日", fullmatch=True),
    st.from_regex(r"[0-9]{1,8}(\.[0-9]{1,3})?", fullmatch=True),
)


@PROPERTY
@given(st.lists(SPELLED, min_size=1, max_size=20), st.sampled_from(["auto", "dmy", "mdy", "%d.%m.%Y"]))
@example(["05/03/2024", "2024/2/30", "60", "1985", "3000000", "2958465.9", "0", "13/13/2024"], "auto")
def test_column_readers_agree_with_the_cell_rules(cells: list[str], order: str) -> None:
    texts = np.array(cells, dtype=object)
    days, ok = f.read_date(texts, order)
    moments, moments_ok = f.read_timestamp(texts, order)
    for at, text in enumerate(cells):
        try:
            expected = np.datetime64(f.parse_date(text, order), "D")
        except ValueError:
            assert not ok[at], text
        else:
            assert ok[at] and days[at] == expected, text
        try:
            moment = f.parse_timestamp(text, order)
        except ValueError:
            assert not moments_ok[at], text
        else:
            assert moments_ok[at] and moments[at] == np.datetime64(moment.replace(tzinfo=None), "us"), text


@pytest.mark.parametrize(("text", "wanted"), [
    ("2024/3/5", date(2024, 3, 5)), ("2024-3-5", date(2024, 3, 5)), ("2024.3.5", date(2024, 3, 5)),
    ("2024年3月5日", date(2024, 3, 5)), ("2024 年 3 月 5 号", date(2024, 3, 5)),
    ("20240305", date(2024, 3, 5)),
    ("45356", date(2024, 3, 5)), ("45356.68", date(2024, 3, 5)), ("1", date(1900, 1, 1)),
    ("59", date(1900, 2, 28)), ("61", date(1900, 3, 1)), ("2958465", date(9999, 12, 31)),
    ("13/03/2024", date(2024, 3, 13)), ("3/13/2024", date(2024, 3, 13)), ("05/05/2024", date(2024, 5, 5)),
    ("2026/3/11 16:23", date(2026, 3, 11)),
])
def test_date_spellings(text: str, wanted: date) -> None:
    assert f.parse_date(text) == wanted


@pytest.mark.parametrize(("text", "wanted"), [
    ("2026/3/11 16:23", datetime(2026, 3, 11, 16, 23)), ("2024年3月5日 16:23", datetime(2024, 3, 5, 16, 23)),
    ("2024年3月5日16时23分05秒", datetime(2024, 3, 5, 16, 23, 5)),
    ("45356.68", datetime(2024, 3, 5, 16, 19, 12)),
    ("45292.6826388889", datetime(2024, 1, 1, 16, 23)), ("3/13/2024 7:05", datetime(2024, 3, 13, 7, 5)),
    ("2024-03-05T16:23:00+08:00", datetime(2024, 3, 5, 8, 23)),
])
def test_date_and_time_spellings(text: str, wanted: datetime) -> None:
    assert f.parse_timestamp(text) == wanted.replace(tzinfo=UTC)


@pytest.mark.parametrize(("text", "reason"), [
    ("05/03/2024", "'05/03/2024' could be 5 March or 3 May: set imports.date_format to dmy or mdy"),
    ("1985", "'1985' could be the year 1985 or an Excel day number; write the whole date"),
    ("60", "'60' is Excel's 1900-02-29, a day that does not exist"),
    ("0", "'0' is not a date, nor an Excel day number (1 to 2958465)"),
    ("2024/2/30", "'2024/2/30' is not a real date or time (day is out of range for month)"),
    ("2024/3/5 24:00", "'2024/3/5 24:00' is not a real date or time (hour must be in 0..23)"),
    ("5 March 2024", "'5 March 2024' is not a date like 2024-01-31, 2024/1/31 or 2024年1月31日"),
    ("3/5/24", "'3/5/24' is not a date like 2024-01-31, 2024/1/31 or 2024年1月31日"),
])
def test_doubtful_dates_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as exc:
        f.parse_date(text)
    assert str(exc.value) == reason


def test_a_strptime_pattern_comes_first_and_the_built_in_spellings_still_apply() -> None:
    assert f.parse_date("05.03.2024", "%d.%m.%Y") == date(2024, 3, 5)
    assert f.parse_date("2024/3/5", "%d.%m.%Y") == date(2024, 3, 5)


# ---- encodings -----------------------------------------------------------------------------

SIMPLIFIED_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨勇", "赵磊", "黄敏", "周杰", "吴霞",
                    "上海东方贸易有限公司", "北京华信科技有限公司", "广州市天河区体育西路",
                    "杭州西湖区文三路"]
TRADITIONAL_NAMES = ["陳美玲", "張志明", "林淑芬", "王建民", "李美惠", "劉家豪", "蔡宗翰", "楊雅婷",
                     "台北貿易股份有限公司", "高雄電子有限公司", "台中市西屯區", "新北市板橋區", "香港九龍灣"]


@PROPERTY
@given(st.lists(st.sampled_from(SIMPLIFIED_NAMES), min_size=1, max_size=6))
def test_simplified_text_in_gbk_is_detected_as_gb18030(names: list[str]) -> None:
    data = ("id,name\n" + "".join(f"{n},{name}\n" for n, name in enumerate(names))).encode("gbk")
    encoding = choose(data, whole=True)
    assert (encoding.codec, data.decode(encoding.codec)) == ("gb18030", data.decode("gbk"))


@PROPERTY
@given(st.lists(st.sampled_from(TRADITIONAL_NAMES), min_size=1, max_size=6))
def test_traditional_text_in_big5_is_detected_as_big5(names: list[str]) -> None:
    text = "id,name\n" + "".join(f"{n},{name}\n" for n, name in enumerate(names))
    encoding = choose(text.encode("big5"), whole=True)
    assert (encoding.label, text.encode("big5").decode(encoding.codec)) == ("Big5", text)


def test_mojibake_is_made_of_uncommon_characters() -> None:
    text = "台北貿易股份有限公司"
    assert commonness(text) == 1.0
    assert commonness(text.encode("big5").decode("gb18030")) < 0.8
