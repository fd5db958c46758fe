"""The alert vocabulary on its own: each reason in plain words, in three languages, and the grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.alerts.items import (
    ALERT_KINDS,
    MAX_COMMENT_CHARS,
    AlertItem,
    AlertKind,
    group,
    reason,
    subject,
)
from edm.config import DigestLanguage
from edm.render import one_line

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LANGUAGES: tuple[DigestLanguage, ...] = ("en", "zh-Hans", "zh-Hant")


def _item(kind: AlertKind, **values: object) -> AlertItem:
    return AlertItem(customer_id=values.pop("customer_id", 1), external_id="C1",  # type: ignore[arg-type]
                     customer_name=values.pop("customer_name", "Acme"), kind=kind,  # type: ignore[arg-type]
                     occurred_at=values.pop("occurred_at", AT), **values)  # type: ignore[arg-type]


def test_a_long_silence_is_said_against_the_usual_interval() -> None:
    item = _item("at_risk", last_order_at=AT - timedelta(days=96), usual_interval_days=30.4)
    assert reason(item, "en") == "At risk of churn: no order for 96 days, about 3 times their usual 30 days"
    assert reason(item, "zh-Hans") == "有流失风险：已 96 天未下单，约为其平常间隔 30 天的 3 倍"
    assert reason(item, "zh-Hant") == "有流失風險：已 96 天未下單，約為其平常間隔 30 天的 3 倍"


@pytest.mark.parametrize(("days", "usual", "expected"), [
    (400, None, "Churned: no order for 400 days"),
    (45, 30.0, "Churned: no order for 45 days, about 1.5 times their usual 30 days"),
    (20, 30.0, "Churned: no order for 20 days; they usually order every 30 days"),
    (3, 0.2, "Churned: no order for 3 days, about 3 times their usual 1 day"),  # under a day counts as one
])
def test_churned_reasons(days: int, usual: float | None, expected: str) -> None:
    item = _item("churned", last_order_at=AT - timedelta(days=days, hours=3), usual_interval_days=usual)
    assert reason(item, "en") == expected


def test_a_customer_who_never_ordered() -> None:
    assert reason(_item("churned"), "en") == "Churned: no order on record"


def test_the_other_kinds_in_plain_words() -> None:
    assert reason(_item("dropped_line", lines=("Paper", "Ink")), "en") == (
        "Stopped buying Paper, Ink, still buys other lines")
    assert reason(_item("dropped_line", lines=("纸张", "墨水")), "zh-Hans") == (
        "不再购买纸张、墨水，但仍在购买其他产品线")
    assert "product lines" in reason(_item("dropped_line"), "en")
    assert reason(_item("detractor", survey="nps", score=3, comment="Too slow"), "en") == (
        "Answered the NPS survey 3/10: 'Too slow'")
    assert reason(_item("detractor", survey="csat", score=1), "en") == "Answered the CSAT survey 1/5"
    assert reason(_item("detractor", survey="nps", score=2, comment="太慢"), "zh-Hant") == (
        "在 NPS 調查中打了 2/10 分：「太慢」")
    assert reason(_item("unsubscribed", campaign="newsletter"), "en") == (
        "Unsubscribed from our mail (from a 'newsletter' mail)")
    assert reason(_item("unsubscribed"), "zh-Hans") == "退订了我们的邮件"
    assert reason(_item("win_back_click", campaign="win_back"), "en") == (
        "Clicked the win-back offer in a 'win_back' mail")


def test_subjects() -> None:
    assert subject(1, "en") == "edm: 1 customer needs your attention"
    assert subject(3, "en") == "edm: 3 customers need your attention"
    assert subject(3, "zh-Hans") == "edm：3 位客户需要您关注"
    assert subject(3, "zh-Hant") == "edm：3 位客戶需要您關注"


texts = st.text(max_size=600)
items = st.builds(
    AlertItem,
    customer_id=st.integers(1, 5),
    external_id=st.text(max_size=20),
    customer_name=texts,
    kind=st.sampled_from(ALERT_KINDS),
    occurred_at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                             timezones=st.just(UTC)),
    lines=st.lists(st.text(max_size=30), max_size=4).map(tuple),
    survey=st.sampled_from(["nps", "csat"]),
    score=st.integers(0, 10),
    comment=st.none() | texts,
    campaign=st.none() | st.text(max_size=40),
    last_order_at=st.none() | st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1),
                                           timezones=st.just(UTC)),
    usual_interval_days=st.none() | st.floats(-5, 5000, allow_nan=False),
    value_tier=st.none() | st.sampled_from(["high", "medium", "low", "odd"]),
)


@given(item=items, language=st.sampled_from(LANGUAGES))
def test_every_reason_is_one_bounded_line_that_keeps_what_the_customer_wrote(item: AlertItem,
                                                                           language: DigestLanguage) -> None:
    text = reason(item, language)
    assert text and text == one_line(text)  # nothing a customer writes can break the digest's layout
    assert len(text) <= MAX_COMMENT_CHARS + 200 or item.kind == "dropped_line"
    if item.kind == "detractor":
        assert f"{item.score}/" in text
        comment = one_line(item.comment or "")
        if comment and len(comment) <= MAX_COMMENT_CHARS:
            assert comment in text
    if item.kind == "dropped_line":
        assert all(one_line(line) in text for line in item.lines)
    if item.kind in ("at_risk", "churned") and item.last_order_at is not None:
        assert str(max(0, (item.occurred_at - item.last_order_at).days)) in text


@given(found=st.lists(items, max_size=20), language=st.sampled_from(LANGUAGES))
def test_grouping_keeps_every_item_once_under_its_customer(found: list[AlertItem],
                                                          language: DigestLanguage) -> None:
    blocks = group(found, language, ZoneInfo("Asia/Shanghai"))
    assert sorted(b.customer_id for b in blocks) == sorted({i.customer_id for i in found})
    for block in blocks:
        own = [i for i in found if i.customer_id == block.customer_id]
        assert sorted(block.reasons) == sorted(reason(i, language) for i in own)
        assert list(block.kinds) == sorted(block.kinds, key=ALERT_KINDS.index)
    firsts = [ALERT_KINDS.index(b.kinds[0]) for b in blocks]
    assert firsts == sorted(firsts)  # the most serious first


def test_key_figures_are_shown_in_the_digest_time_zone() -> None:
    item = _item("at_risk", last_order_at=datetime(2026, 1, 5, 20, 0, tzinfo=UTC), usual_interval_days=29.6,
                 value_tier="high")
    [block] = group([item], "zh-Hans", ZoneInfo("Asia/Shanghai"))
    assert (block.last_order, block.usual_interval, block.value_tier) == ("2026-01-06", "30 天", "高")
    [bare] = group([_item("unsubscribed")], "en", UTC)
    assert (bare.last_order, bare.usual_interval, bare.value_tier) == ("—", "—", "—")
