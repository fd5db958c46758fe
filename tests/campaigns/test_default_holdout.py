"""`policy.default_holdout_percent`: every campaign but service mail keeps a control group unless its file
sets its own `holdout_percent`; `edm init` writes a 5% default."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from edm.campaigns.variants import HOLDOUT, assign
from edm.cli import main
from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer

BODY = """template: re_engagement
subject: {en: "News", zh-Hans: "新闻", zh-Hant: "新聞"}
links: {catalog: "https://www.example.com/c", feedback: "https://www.example.com/f"}
params: {discount: "10%"}
respect_frequency: false
"""
CAMPAIGNS = {
    "plain": "",  # no holdout_percent: the policy's default
    "own": "holdout_percent: 10\n",  # its own share wins
    "none": "holdout_percent: 0\n",  # and so does its own 0
    "notice": "kind: service\nholdout_percent: 20\n",  # service mail always arrives
}
CUSTOMERS = 40


def _folder(tmp_path: Path) -> list[str]:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    for name, extra in CAMPAIGNS.items():
        (tmp_path / "campaigns" / f"{name}.yaml").write_text(f"name: {name}\n{extra}{BODY}", encoding="utf-8")
    people = ["external_id,name,kind,email,locale,timezone"]
    people += [f"p{i:02},Person {i},person,p{i:02}@example.com,en-US,UTC" for i in range(CUSTOMERS)]
    (tmp_path / "customers.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    config = ["--config", str(tmp_path / "edm.yaml")]
    for command in (["import", "customers", str(tmp_path / "customers.csv")], ["classify"]):
        result = runner.invoke(main, [*command, *config], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return config


def test_init_writes_a_five_percent_default(tmp_path: Path) -> None:
    _folder(tmp_path)
    assert load_settings(tmp_path / "edm.yaml").policy.default_holdout_percent == 5


def test_the_default_holdout_applies_unless_the_campaign_sets_one_and_never_to_service_mail(
    tmp_path: Path,
) -> None:
    config = _folder(tmp_path)
    out = tmp_path / "plan.csv"
    result = CliRunner().invoke(
        main, ["campaign", "run", *CAMPAIGNS, "--dry-run", "--out", str(out), *config],
        env={"EDM_POLICY__DEFAULT_HOLDOUT_PERCENT": "30"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open_store(load_settings(tmp_path / "edm.yaml"))() as session:
        ids = list(session.scalars(select(Customer.id)))
    held = {name: {int(r["customer_id"]) for r in rows if r["campaign"] == name and r["reason"] == "holdout"}
            for name in CAMPAIGNS}
    for name, share in (("plain", 30), ("own", 10), ("none", 0)):
        assert held[name] == {i for i in ids if assign(name, i, [], share) == HOLDOUT}, name
        assert {int(r["customer_id"]) for r in rows if r["campaign"] == name} == set(ids)
    assert 0 < len(held["own"]) < len(held["plain"]) < CUSTOMERS  # the hash splits this audience
    assert held["none"] == held["notice"] == set()
    assert all(r["decision"] == "send" for r in rows if r["campaign"] == "notice")
