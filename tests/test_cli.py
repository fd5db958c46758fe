from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from edm.classes import DIMENSIONS
from edm.cli import main
from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer, CustomerProfile, Event, OutboxMessage


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(main), ids=" ".join)
def test_every_command_has_useful_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "-h"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Usage:" in result.output
    command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    if not isinstance(command, click.Group):
        assert "Example:" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "edm" in result.output


def test_demo_runs_the_whole_path_and_leaves_a_usable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    elsewhere = f"sqlite:///{tmp_path / 'production.db'}"  # the demo must never touch this
    result = CliRunner().invoke(main, ["demo", "--dir", str(folder), "--customers", "120"],
                                env={"EDM_DATABASE_URL": elsewhere}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 new messages" in result.output
    own_clock = re.search(r"Judged by their own clock: (\d+) annual buyers on time, "
                          r"(\d+) whose pace fell \(at risk before they were late\), "
                          r"(\d+) one-time buyers \(churn risk (\d+)%–(\d+)%\), "
                          r"(\d+) back after a lapse long ago \(now growing or mature\)", result.output)
    assert own_clock, result.output
    annual, fell, once, low, high, back = (int(own_clock.group(n)) for n in (1, 2, 3, 4, 5, 6))
    assert min(annual, fell, once, back) > 0 and low < high, result.output
    by_language = re.search(r"Mail by language \(from the customer's locale\): (.*)", result.output)
    assert by_language, result.output
    assert {"en", "zh-Hans", "zh-Hant"} <= {pair.split()[0] for pair in by_language.group(1).split(", ")}
    answered = re.search(r"answered (\d+) surveys in one click", result.output)
    digests = re.search(r"Account managers' digests: (\d+) mailed \((\d+) alerts?\), (\d+) managers? had "
                        r"nothing to report", result.output)
    assert digests and (digests.group(3) == "1") == ("1 manager had" in result.output), result.output
    # issue 25: days with one decimal and an en dash; campaign days explained by their time zones
    assert re.search(r"contact intervals now range \d+(\.\d)?–\d+(\.\d)? days\n", result.output), (
        result.output)
    assert re.search(r"It is \d{4}-\d\d-\d\d \d\d:\d\d UTC; the date after each campaign's name is today "
                     r"in its schedule's time zone \(UTC without one\): \d{4}-\d\d-\d\d in [A-Za-z/_, ]+",
                     result.output)
    one_plural = r"(?<![\d.,])1 (orders|customers|managers|campaigns|days|hours|surveys|links|pixels)\b"
    assert not re.search(one_plural, result.output), result.output
    assert answered and int(answered.group(1)) > 0, result.output
    assert digests and int(digests.group(1)) > 0 and int(digests.group(2)) > 0, result.output
    assert not (tmp_path / "production.db").exists()
    assert (folder / "report.html").stat().st_size > 0
    assert "NPS" in (folder / "satisfaction.html").read_text(encoding="utf-8")
    mails = list((folder / "mail").glob("*.eml"))
    sessions = open_store(load_settings(folder / "edm.yaml"))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 120
        assert session.scalar(select(func.count()).select_from(CustomerProfile)) == 120
        sent = session.scalar(select(func.count()).where(OutboxMessage.state == "sent"))
        opens = session.scalar(select(func.count()).where(Event.kind == "open"))
    assert sent == len(mails) - int(digests.group(1)) > 0  # the digests go to managers, not via the outbox
    assert opens and opens > 0
    # Every campaign mail shows the demo's sample company and its postal address (settings `brand:`).
    brand = load_settings(folder / "edm.yaml").brand
    assert isinstance(brand.postal_address, dict) and isinstance(brand.company, dict)
    parsed = [BytesParser(policy=policy.default).parsebytes(m.read_bytes()) for m in mails]
    campaign_mail = [message for message in parsed if message["List-Unsubscribe-Post"]]
    assert len(campaign_mail) == sent
    for message in campaign_mail:
        plain = message.get_body(("plain",))
        assert plain is not None
        text = str(plain.get_content())
        assert any(address in text for address in brand.postal_address.values()), text
        assert any(company in text for company in brand.company.values()), text
    # The folder works with the other commands afterwards.
    report = CliRunner().invoke(main, ["report", "engagement", "--config", str(folder / "edm.yaml"),
                                       "--format", "csv", "--by", "campaign",
                                       "--out", str(tmp_path / "e.csv")], catch_exceptions=False)
    assert report.exit_code == 0, report.output
    assert f"sent {sent}," in report.output
    # the demo's campaigns keep edm.yaml's default control group: the report has their uplift too
    table = (tmp_path / "e-engagement-campaign.csv").read_text(encoding="utf-8-sig")
    assert table.startswith("campaign,sent")
    assert (tmp_path / "e-uplift.csv").read_text(encoding="utf-8-sig").startswith("campaign,")
    config = ["--config", str(folder / "edm.yaml")]
    classified = CliRunner().invoke(main, ["classify", *config], catch_exceptions=False)
    assert classified.exit_code == 0, classified.output
    assert "120 customers classified" in classified.output
    assert "moved since the last run; 0 classified for the first time" in classified.output
    for dimension in DIMENSIONS:
        assert dimension in classified.output
    card = CliRunner().invoke(main, ["customers", "show", "C0001", *config], catch_exceptions=False)
    assert card.exit_code == 0, card.output
    assert "(C0001, #1)" in card.output and "churn_risk" in card.output
    company = CliRunner().invoke(main, ["customers", "show", "C0005", *config], catch_exceptions=False)
    with sessions() as session:
        manager = session.execute(select(Customer.account_manager, Customer.account_manager_email)
                                  .where(Customer.external_id == "C0005")).one()
    assert manager.account_manager  # a company, looked after by the sample's sales team
    assert f"account manager {manager.account_manager} <{manager.account_manager_email}>" in company.output
    assert "tags expo-2025" in company.output
    assert "contact interval" in company.output and "next marketing mail" in company.output
    missing = CliRunner().invoke(main, ["customers", "show", "nobody", *config], catch_exceptions=False)
    assert missing.exit_code == 1 and "no customer with id 'nobody'" in missing.output


def test_demo_refuses_to_recreate_a_users_working_folder(tmp_path: Path) -> None:
    CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False)
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1 and "working folder of yours" in result.output
    assert (tmp_path / "edm.yaml").exists() and (tmp_path / "edm.db").exists()


def test_import_reports_row_and_column_and_writes_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    config = str(tmp_path / "edm.yaml")
    bad = tmp_path / "customers.csv"
    bad.write_text("external_id,name,kind,email\nC1,Ann,person,ann@example.com\nC2,Bob,robot,not-an-email\n",
                   encoding="utf-8")
    result = runner.invoke(main, ["import", "customers", str(bad), "--config", config],
                           catch_exceptions=False)
    assert result.exit_code == 1
    assert "row 3, column 'kind'" in result.output and "row 3, column 'email'" in result.output
    assert "Traceback" not in result.output
    with open_store(load_settings(tmp_path / "edm.yaml"))() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_campaign_run_needs_a_signing_key_and_says_how_to_set_it(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False)
    result = runner.invoke(main, ["campaign", "run", "win_back", "--config", str(tmp_path / "edm.yaml")],
                           catch_exceptions=False)
    assert result.exit_code == 1
    assert "EDM_SECRET_KEY is not set" in result.output


def test_campaign_run_dry_run_counts_without_queueing(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False)
    config = ["--config", str(tmp_path / "edm.yaml")]
    result = runner.invoke(main, ["campaign", "run", "win_back", "--dry-run", *config],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "win_back" in result.output and "queued 0" in result.output
    unknown = runner.invoke(main, ["campaign", "run", "nope", "--dry-run", *config], catch_exceptions=False)
    assert unknown.exit_code == 1 and "no campaign named 'nope'" in unknown.output
