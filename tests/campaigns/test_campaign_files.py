from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from edm.campaigns.loader import load_campaign, load_campaigns
from edm.cli import main
from edm.errors import CampaignError
from edm.resources import bundled_config_dir

GOOD = """\
name: spring_greeting
audience:
  tiers: [high]
  stages: [mature]
template: holiday_greeting
subject:
  en: "Happy Spring Festival, {{ greeting_name }}"
links:
  card: https://www.example.com/card
schedule:
  cron: "0 9 * * 1"
  timezone: Asia/Shanghai
"""


def _write(tmp_path: Path, text: str, name: str = "campaign.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(load: Callable[[Path], object], path: Path) -> str:
    with pytest.raises(CampaignError) as caught:
        load(path)
    return str(caught.value)


def test_bundled_campaigns_load() -> None:
    campaigns = load_campaigns(bundled_config_dir() / "campaigns")
    shipped = {"holiday_greeting", "spring_festival", "mid_autumn", "birthday", "anniversary",
               "partial_churn", "welcome", "re_engagement", "win_back", "key_account_greeting",
               "re_permission", "csat_post_purchase", "nps_key_accounts", "detractor_follow_up",
               "promoter_referral", "spring_festival_closure", "reorder_reminder"}
    assert set(campaigns) == shipped
    win_back = campaigns["win_back"].campaign
    assert win_back.audience.stages == ["churned"] and [s.after_days for s in win_back.follow_ups] == [14, 30]
    assert campaigns["key_account_greeting"].campaign.sender == "account_manager"
    assert [n for n, f in campaigns.items() if f.campaign.reaches_sunset] == ["re_permission", "win_back"]


def test_a_misspelled_key_names_file_line_and_suggests_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("template:", "templat:"))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    message = str(caught.value)
    assert f"{path}:5:1: templat: unknown key 'templat'; did you mean 'template'?" in message
    assert "template: Field required" in message


def test_a_nested_misspelling_points_at_the_nested_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("  stages:", "  stage:"))
    message = str(_error(load_campaign, path))
    assert f"{path}:4:3: audience.stage: unknown key 'stage'; did you mean 'stages'?" in message


def test_a_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("tiers: [high]", "tiers: [platinum]"))
    message = str(_error(load_campaign, path))
    assert f"{path}:3:11: audience.tiers.0:" in message
    assert "'high', 'medium' or 'low'" in message


def test_bad_cron_timezone_and_template_are_explained(tmp_path: Path) -> None:
    cron = _write(tmp_path, GOOD.replace('"0 9 * * 1"', '"0 99 * * 1"'), "cron.yaml")
    assert "schedule.cron" in str(_error(load_campaign, cron))
    zone = _write(tmp_path, GOOD.replace("Asia/Shanghai", "Asia/Peking"), "zone.yaml")
    assert "unknown time zone 'Asia/Peking'" in str(_error(load_campaign, zone))
    template = _write(tmp_path, GOOD.replace("template: holiday_greeting", "template: nope"), "t.yaml")
    assert "nope" in str(_error(load_campaign, template))


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("  stages: [mature]", "  stages: [mature"))
    message = str(_error(load_campaign, path))
    assert message.startswith(f"{path}:") and "invalid YAML" in message


def test_duplicate_campaign_names_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    assert "already used" in str(_error(load_campaigns, tmp_path))


def test_cli_validate_reports_each_broken_file_and_exits_non_zero(tmp_path: Path) -> None:
    good = _write(tmp_path, GOOD, "good.yaml")
    misspelled = _write(tmp_path, GOOD.replace("subject:", "subjekt:"), "misspelled.yaml")
    wrong_type = _write(tmp_path, GOOD.replace("tiers: [high]", "tiers: {high: 1}"), "wrong.yaml")
    result = CliRunner().invoke(main, ["campaign", "validate", str(good), str(misspelled), str(wrong_type)],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert f"{good}: ok (spring_greeting)" in result.output
    assert f"{misspelled}:6:1: subjekt: unknown key 'subjekt'; did you mean 'subject'?" in result.output
    assert f"{wrong_type}:3:10: audience.tiers.0: Input should be 'high', 'medium' or 'low'" in result.output
    assert "Traceback" not in result.output


def test_every_shipped_campaign_ships_its_templates_and_subjects_in_three_languages() -> None:
    """English, Simplified and Traditional Chinese: each template an html and a text part, each subject."""
    from edm.render import template_languages
    from edm.resources import templates_dir

    languages = {"en", "zh-Hans", "zh-Hant"}
    for name, loaded in load_campaigns(bundled_config_dir() / "campaigns").items():
        campaign = loaded.campaign
        contents = [campaign.content(v.name) for v in campaign.variants] or [campaign.content(None)]
        contents += [campaign.content(None, step) for step in range(1, len(campaign.follow_ups) + 1)]
        for template, subjects in contents:
            assert set(template_languages(template)) == languages, (name, template)
            assert all((templates_dir() / template / f"{lang}.txt.j2").is_file() for lang in languages), name
            assert languages <= set(subjects), (name, sorted(subjects))
