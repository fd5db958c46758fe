"""Issue 25, point 2 on the command line: `edm campaign due`, `preview` and `run` (dry run or not) name a
campaign by its `title:` in the team's language (`alerts.language`, as digests do) with the name to
type, "Spring Festival greeting (spring_festival)"; a campaign without a title by its name alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edm.campaigns.labels import named
from edm.cli import main

QUOTE = ("name: quote_follow_up\ntemplate: welcome\nsubject: {en: Your quote}\n"
         "links: {help: 'https://shop.example.com/help', catalog: 'https://shop.example.com/'}\n"
         "event: {name: quote_requested, delay: {hours: 2}}\n")
ONLY_ENGLISH = ("name: trade_fair\ntitle: {en: Trade fair invitation}\ntemplate: welcome\n"
                "subject: {en: Meet us}\nschedule: {cron: '0 9 3 2 *'}\n")
SPRING = {"en": "Spring Festival greeting", "zh-Hans": "春节问候", "zh-Hant": "春節問候"}


def folder(tmp_path: Path, language: str) -> Path:
    """`edm init`'s folder (the shipped campaigns, which have titles), two campaigns more, and
    `alerts.language` set to `language`."""
    root = tmp_path / "work"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    (root / "campaigns" / "quote.yaml").write_text(QUOTE, encoding="utf-8")
    (root / "campaigns" / "fair.yaml").write_text(ONLY_ENGLISH, encoding="utf-8")
    config = root / "edm.yaml"
    text = config.read_text(encoding="utf-8")
    assert "\n  language: en " in text
    config.write_text(text.replace("\n  language: en ", f"\n  language: {language} "), encoding="utf-8")
    return config


def edm(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("language", ["en", "zh-Hans", "zh-Hant"])
def test_campaign_due_names_each_campaign_by_its_title_in_the_team_language(
    tmp_path: Path, language: str
) -> None:
    out = edm(folder(tmp_path, language), "campaign", "due", "--date", "2027-02-03")

    assert f"{SPRING[language]} (spring_festival): due on 2027-02-03; next 2028-01-23 (3 days before " in out
    assert "\nquote_follow_up: due on 2027-02-03" in out  # no title: the name alone
    assert "\nTrade fair invitation (trade_fair): due on 2027-02-03" in out  # no zh title: the English one
    assert "\nspring_festival:" not in out and "\nQuote follow up" not in out


@pytest.mark.parametrize("language", ["en", "zh-Hans", "zh-Hant"])
def test_preview_and_dry_run_name_the_campaign_by_its_title(tmp_path: Path, language: str) -> None:
    config = folder(tmp_path, language)

    preview = edm(config, "campaign", "preview", "spring_festival", "--date", "2027-02-03")
    assert preview.startswith(f"{SPRING[language]} (spring_festival) on 2027-02-03: due\n")

    dry = edm(config, "campaign", "run", "spring_festival", "quote_follow_up", "--dry-run").splitlines()
    assert any(line.startswith(f"{SPRING[language]} (spring_festival) ") and ": audience 0, queued 0" in line
               for line in dry), dry
    assert any(line.startswith("quote_follow_up ") and ": audience 0" in line for line in dry), dry


@pytest.mark.parametrize(("titles", "language", "expected"), [
    (SPRING, "zh-Hans", "春节问候 (spring_festival)"),
    (SPRING, "zh-TW", "春節問候 (spring_festival)"),  # a region tag reads its script
    ({"en": "Spring Festival greeting"}, "zh-Hant", "Spring Festival greeting (spring_festival)"),
    ({"zh-Hans": "春节问候"}, "en", "Spring festival (spring_festival)"),  # no English title: humanised
    ({}, "en", "spring_festival"),  # no title: the humanised name would only repeat the name
    ({"en": "  "}, "zh-Hans", "spring_festival"),
])
def test_named_gives_the_title_with_the_name_to_type(
    titles: dict[str, str], language: str, expected: str
) -> None:
    assert named("spring_festival", titles, language) == expected
