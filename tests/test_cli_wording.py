"""Issue 25: what the CLI writes for people is grammatical: a card says why it has no engagement score
yet, counts take the right plural ("1 order", not "1 orders"), days have one decimal, and the demo's
help and step 5 say what they do (campaign days in their own time zones)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from edm.campaigns.loader import load_campaigns
from edm.campaigns.schema import Campaign
from edm.cli import main
from edm.demo import campaign_days
from edm.resources import bundled_config_dir

# "1 orders", "1 days", "1 years", "1 mails", ... anywhere a count meets a plural noun
ONE_PLURAL = re.compile(r"(?<![\d.,])1 (orders|days|years|mails|opens|clicks|customers|order days|rows)\b")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder: twenty customers who order now and then, and SOLO with one order this year."""
    root = tmp_path_factory.mktemp("wording") / "work"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root)], catch_exceptions=False).exit_code == 0
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    customers = ["external_id,name,kind,email,locale,timezone"]
    orders = ["external_id,customer_external_id,ordered_at,amount"]
    for n in range(20):
        customers.append(f"C{n},Customer {n} Ltd.,company,c{n}@example.com,en,UTC")
        for k in range(1 + n % 6):
            ordered = now - timedelta(days=20 + 45 * k + n)
            orders.append(f"C{n}-{k},C{n},{ordered:%Y-%m-%dT%H:%M:%SZ},{1200 + 10 * k}")
    customers.append("SOLO,Solo Trading Ltd.,company,solo@example.com,en,UTC")
    orders.append(f"SOLO-1,SOLO,{now - timedelta(days=30):%Y-%m-%dT%H:%M:%SZ},2500")
    (root / "customers.csv").write_text("\n".join(customers) + "\n", encoding="utf-8")
    (root / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    for kind in ("customers", "orders"):
        result = runner.invoke(main, ["import", kind, str(root / f"{kind}.csv"), "--config",
                                      str(root / "edm.yaml")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["classify", "--config", str(root / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


def _edm(folder: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(folder / "edm.yaml")], catch_exceptions=False,
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.stdout


def _flat(text: str) -> str:
    """Table cells wrapped over lines, read back as one line of words."""
    return " ".join(" ".join(re.sub(r"[│┃┏┓┗┛━─┡┩└┘┌┐╇╈┼]", " ", text).split()).split())


def test_the_card_says_why_there_is_no_engagement_score_yet_then_shows_it(folder: Path) -> None:
    card = _flat(_edm(folder, "customers", "show", "SOLO"))
    assert "engagement score not scored yet" in card, card
    assert "scored when campaigns are next planned (edm campaign run, or the daemon)" in card
    assert "0 opens, 0 clicks, 1 order in the last year" in card
    assert "engagement score -" not in card
    assert not ONE_PLURAL.search(card), ONE_PLURAL.search(card)
    _edm(folder, "campaign", "run", "win_back", "--dry-run")  # planning scores every profile
    scored = _flat(_edm(folder, "customers", "show", "SOLO"))
    assert re.search(r"engagement score [\d.]+ 0 opens, 0 clicks, 1 order in the last year, weighted", scored)
    assert "not scored yet" not in scored


def test_the_card_counts_in_english_with_thousands_separators(folder: Path) -> None:
    card = _flat(_edm(folder, "customers", "show", "SOLO"))
    assert re.search(r"purchase_frequency \w+ [\d.,]+ orders? a year over the last 365 days", card), card
    assert re.search(r"predicted_value \d{1,3}(,\d{3})*(\.\d+)? expected spend", card), card
    assert "sales over the last 365 days 2,500" in card
    assert re.search(r"contact interval [\d.]+ days", card)
    assert not re.search(r"\d\.\d\d+ days", card), card  # one decimal for days at most


def test_demo_help_says_what_it_runs_from_the_campaign_files() -> None:
    result = CliRunner().invoke(main, ["demo", "--help"], catch_exceptions=False, terminal_width=400)
    assert result.exit_code == 0
    shipped = load_campaigns(bundled_config_dir() / "campaigns")
    at_once = sorted(name for name, loaded in shipped.items() if loaded.campaign.holiday is None)
    festivals = len(shipped) - len(at_once)
    text = " ".join(result.stdout.split())
    assert (f"It runs {len(at_once)} bundled campaigns at once, whatever their schedule: "
            f"{', '.join(at_once)}.") in text
    assert f"The {festivals} festival greetings" in text
    assert "three campaigns" not in text


def test_step_five_says_each_campaign_day_is_its_own_time_zones() -> None:
    def campaign(name: str, timezone: str | None) -> Campaign:
        trigger = {"schedule": {"cron": "0 10 * * *", "timezone": timezone}} if timezone else {}
        return Campaign.model_validate({"name": name, "template": "welcome", "subject": {"en": "Hi"},
                                        **trigger})

    late = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)  # 01:30 on the 8th in Shanghai
    text = campaign_days([campaign("a", "Asia/Shanghai"), campaign("b", None), campaign("c", "UTC")], late)
    assert text == ("It is 2026-12-07 17:30 UTC; the date after each campaign's name is today in its "
                    "schedule's time zone (UTC without one): 2026-12-07 in UTC; 2026-12-08 in Asia/Shanghai")
