"""A campaign's `topic`: one of settings `topics` (validate names the file and line of any other), never on
service mail; the planner holds whoever turned it off, and the checker renders the generic message too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from edm.campaigns.check import GENERIC_LABEL, Checker
from edm.campaigns.decisions import Facts, Reason, Rules, decide
from edm.campaigns.loader import load_campaigns
from edm.campaigns.schema import Campaign
from edm.campaigns.timing import Timing
from edm.cli import main
from edm.config import DEFAULT_TOPICS, PolicySettings
from edm.resources import bundled_config_dir

NOW = datetime(2027, 2, 3, 9, tzinfo=UTC)
CAMPAIGN = """\
name: spring_offer
kind: marketing
topic: {topic}
template: re_engagement
subject: {{en: "Hello"}}
links: {{catalog: "https://www.example.com/c", feedback: "https://www.example.com/f"}}
params: {{discount: "5%"}}
"""


def _validate(tmp_path: Path, topic: str, settings: str | None = None) -> tuple[int, str]:
    path = tmp_path / "spring_offer.yaml"
    path.write_text(CAMPAIGN.format(topic=topic), encoding="utf-8")
    options = []
    if settings is not None:
        (tmp_path / "edm.yaml").write_text(settings, encoding="utf-8")
        options = ["--config", str(tmp_path / "edm.yaml")]
    result = CliRunner().invoke(main, ["campaign", "validate", str(path), *options], catch_exceptions=False)
    return result.exit_code, result.output


def test_an_unknown_topic_is_an_error_naming_file_line_and_field(tmp_path: Path) -> None:
    code, output = _validate(tmp_path, "webinars")
    assert code == 1
    assert (f"{tmp_path / 'spring_offer.yaml'}:3:8: topic: no topic 'webinars' in edm.yaml "
            "(topics: greetings, news, offers, surveys)") in output


def test_the_topics_are_those_of_edm_yaml(tmp_path: Path) -> None:
    settings = f"database_url: sqlite:///{tmp_path / 'edm.db'}\ntopics: {{webinars: Webinars}}\n"
    assert _validate(tmp_path, "webinars", settings)[0] == 0
    code, output = _validate(tmp_path, "offers", settings)
    assert code == 1 and ":3:8: topic: no topic 'offers' in edm.yaml (topics: webinars)" in output


def test_a_topic_name_is_checked_by_the_schema_and_service_mail_has_none() -> None:
    base = {"name": "x", "template": "welcome", "subject": {"en": "Hi"}}
    with pytest.raises(ValidationError, match="should match pattern"):
        Campaign.model_validate({**base, "topic": "Offers!"})
    with pytest.raises(ValidationError, match="service mail has no topic"):
        Campaign.model_validate({**base, "kind": "service", "topic": "news"})


def test_every_shipped_campaign_but_service_and_re_permission_names_a_shipped_topic() -> None:
    files = load_campaigns(bundled_config_dir() / "campaigns")
    topics = {name: loaded.campaign.topic for name, loaded in files.items()}
    assert {name for name, topic in topics.items() if topic is None} == {"spring_festival_closure",
                                                                          "re_permission"}
    assert {topic for topic in topics.values() if topic} == set(DEFAULT_TOPICS)
    assert topics["spring_festival"] == "greetings" and topics["win_back"] == "offers"


def _decide(kind: str, topic_off: str | None) -> Reason:
    campaign = Campaign.model_validate({"name": "c", "kind": kind, "template": "welcome",
                                        "subject": {"en": "Hi"}})
    facts = Facts(customer_id=1, timezone="UTC", interval_days=0, topic_off=topic_off,
                  paused_until=datetime(2030, 1, 1, tzinfo=UTC))
    return decide(facts, Rules.of(campaign, PolicySettings()), Timing(NOW)).reason


def test_a_topic_turned_off_holds_marketing_before_a_pause_but_never_service_mail() -> None:
    assert _decide("greeting", "greetings") == Reason.TOPIC_OFF
    assert _decide("greeting", None) == Reason.PAUSED
    assert _decide("service", "greetings") == Reason.DUE


def test_the_checker_renders_the_generic_message_and_names_it(tmp_path: Path) -> None:
    """A template that needs a per-person figure fails for someone who chose no personalisation."""
    (tmp_path / "nudge").mkdir()
    (tmp_path / "nudge" / "en.html.j2").write_text(
        "<p>Dear {{ greeting_name }}, it has been {{ profile.days_since_last_order + 0 }} days.</p>",
        encoding="utf-8")
    campaign = Campaign.model_validate({"name": "nudge", "template": "nudge", "subject": {"en": "Hi"}})
    problems = Checker(templates_dir=tmp_path).check(campaign, [], NOW)
    assert [p.sample for p in problems] == [GENERIC_LABEL]
    assert "unsupported operand" in problems[0].message

    (tmp_path / "nudge" / "en.html.j2").write_text(
        "<p>Dear {{ greeting_name }}{% if personalised %}, it has been "
        "{{ profile.days_since_last_order + 0 }} days{% endif %}.</p>", encoding="utf-8")
    assert Checker(templates_dir=tmp_path).check(campaign, [], NOW) == []
