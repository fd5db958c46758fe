"""Issue 25: every trigger kind has a label, in en, zh-Hans and zh-Hant, and `edm campaign due` shows it
instead of "(no trigger: any day it is run)" for birthday, anniversary and event-triggered campaigns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from edm.campaigns.labels import LANGUAGES, trigger_label
from edm.campaigns.schema import Campaign
from edm.cli import main
from tests.test_locales import SIMPLIFIED_ONLY

BASE: dict[str, Any] = {"name": "c", "template": "welcome", "subject": {"en": "Hi"}}
TRIGGERS: dict[str, dict[str, Any]] = {
    "schedule": {"cron": "0 10 * * 2", "timezone": "Asia/Shanghai"},
    "holiday": {"name": "mid_autumn", "days_before": 2},
    "life_event": {"name": "founding_anniversary", "days_before": 1},
    "entered": {"dimension": "lifecycle_stage", "into": ["at_risk", "churned"]},
    "inactive": {"usual_intervals": 2.5},
    "after_order": {"days": 1},
    "reorder": {"days_before": 3},
    "answered": {"survey": "nps", "as": "detractor", "within_days": 1},
    "event": {"name": "quote_requested", "where": {"channel": "web"}, "delay": {"hours": 2},
              "unless": {"event": "order_placed", "within_hours": 72}},
    "api": True,
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def trigger_kinds() -> list[str]:
    """The kinds the schema knows, from its own error for a campaign with two triggers."""
    with pytest.raises(ValidationError) as raised:
        Campaign.model_validate({**BASE, "schedule": TRIGGERS["schedule"], "reorder": TRIGGERS["reorder"]})
    found = re.search(r"give one trigger: ([a-z_, ]+) or (\w+)", str(raised.value))
    assert found
    return [*found.group(1).split(", "), found.group(2)]


def test_the_examples_cover_every_trigger_kind_the_schema_knows() -> None:
    assert sorted(trigger_kinds()) == sorted(TRIGGERS)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_every_trigger_kind_has_its_own_label_in_each_language(kind: str, language: str) -> None:
    campaign = Campaign.model_validate({**BASE, kind: TRIGGERS[kind]})
    label = trigger_label(campaign, language)  # type: ignore[arg-type]
    assert label != trigger_label(Campaign.model_validate(BASE), language)  # type: ignore[arg-type]
    words = re.sub(r"quote_requested|order_placed|lifecycle_stage|at_risk", "", label)
    assert "no trigger" not in label and "None" not in label and "_" not in words, label
    if language == "en":
        assert not CJK.search(label) and not re.search(r"\b1 (days|hours|orders)\b", label), label
    else:
        assert CJK.search(label), label
    if language == "zh-Hant":
        assert not set(label) & SIMPLIFIED_ONLY, label


@pytest.mark.parametrize(("kind", "language", "expected"), [
    ("life_event", "en", "1 day before each customer company's founding anniversary, 09:00 their time"),
    ("life_event", "zh-Hans", "每位客户的公司成立纪念日前 1 天，当地时间 09:00"),
    ("after_order", "en", "1 day after each order"),
    ("after_order", "zh-Hant", "每筆訂單後 1 天"),
    ("inactive", "en", "no order for 2.5× their usual interval"),
    ("answered", "en", "an NPS answer from a detractor (within 1 day)"),
    ("event", "en",
     "customer event quote_requested where channel=web, 2 h later, unless order_placed within 72 h"),
    ("holiday", "zh-Hant", "中秋節前 2 天，客戶當地時間 09:00，僅限過此節日的地區"),
    ("api", "en", "only through the API (POST /v1/campaigns/c/send)"),
])
def test_labels_read_as_written(kind: str, language: str, expected: str) -> None:
    assert trigger_label(Campaign.model_validate({**BASE, kind: TRIGGERS[kind]}), language) == expected  # type: ignore[arg-type]


def test_campaign_due_labels_birthday_anniversary_and_event_campaigns(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    (tmp_path / "p" / "campaigns" / "quote.yaml").write_text(
        "name: quote_follow_up\ntemplate: welcome\nsubject: {en: Your quote}\n"
        "event: {name: quote_requested, delay: {hours: 2}}\n", encoding="utf-8")
    result = runner.invoke(main, ["campaign", "due", "--date", "2027-02-03",
                                  "--config", str(tmp_path / "p" / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "no trigger" not in result.stdout
    assert ("First-order anniversary (anniversary): due on 2027-02-03; next 2027-02-04 "
            "(the anniversary of each customer's first order, 09:00 their time)") in result.stdout
    assert ("quote_follow_up: due on 2027-02-03; next 2027-02-04 (customer event quote_requested, "
            "2 h later)") in result.stdout
    assert ("After-order satisfaction survey (csat_post_purchase): due on 2027-02-03; next 2027-02-04 "
            "(3 days after each order)") in result.stdout
    assert "Win-back (win_back): due on 2027-02-03; next 2027-02-04 (no order for 90 days)" in result.stdout
