"""Issue 17's named customers, each judged by their own clock, through the public surface:
`edm import` + `edm classify` + `edm customers show`, and `edm campaign run` over real SMTP.

A background of ordinary customers (regular buyers of several rhythms, some who stopped,
some one-time buyers) gives the population figures (peers' intervals, the MBG/NBD and
Gamma-Gamma fits) something real to rest on; the named customers are judged among them.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from edm.cli import main
from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer, CustomerProfile, ProfileTransition
from tests.conftest import SECRET_KEY, SmtpServer

ANNUAL = "ANNUAL"  # orders once a year, on time: last order 201 days ago
FALLING = "FALLING"  # 18 orders a year for three years, then 2 a year
BACK = "BACK"  # lapsed for two years, came back four years ago and has ordered monthly since
ONCE_OLD = "ONCE_OLD"  # one order, 700 days ago
ONCE_NEW = "ONCE_NEW"  # one order, 10 days ago


def _histories(today: datetime) -> dict[str, tuple[str, list[int]]]:
    """customer -> (industry, days ago of each order)."""
    rnd = random.Random(17)
    people: dict[str, tuple[str, list[int]]] = {}
    for i in range(80):
        gap = rnd.choice([14, 30, 45, 60, 90, 120])
        stop = rnd.choice([0, 0, 0, rnd.randint(200, 600)])  # a quarter stopped buying
        days, day = [], rnd.randint(400, 1400)
        while day > stop:
            days.append(day)
            day -= max(1, int(rnd.gauss(gap, gap * 0.2)))
        people[f"B{i:03}"] = (rnd.choice(["制造业", "贸易", "Logistics", "零售"]), days)
    for i in range(20):
        people[f"O{i:03}"] = ("贸易", [rnd.randint(5, 900)])
    people[ANNUAL] = ("制造业", [201 + 365 * k for k in range(5)])
    people[FALLING] = ("贸易", [180 + 20 * k for k in range(1, 55)] + [40])
    people[BACK] = ("制造业", [365 * 6 + 30 * k for k in range(24)] + [5 + 30 * k for k in range(49)])
    people[ONCE_OLD] = ("贸易", [700])
    people[ONCE_NEW] = ("贸易", [10])
    return people


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new installation with the named customers imported and classified, once for the module."""
    root = tmp_path_factory.mktemp("rhythm") / "work"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root)], catch_exceptions=False).exit_code == 0
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    people = _histories(now)
    customers = ["external_id,name,kind,industry,email,locale,timezone"]
    orders = ["external_id,customer_external_id,ordered_at,amount"]
    for key, (industry, days) in people.items():
        customers.append(f"{key},{key.title()} Ltd,company,{industry},{key.lower()}@example.com,en,UTC")
        for n, ago in enumerate(sorted(days, reverse=True)):
            moment = (now - timedelta(days=ago)).replace(hour=0)  # whole days ago, at any time of day
            orders.append(f"{key}-{n},{key},{moment:%Y-%m-%dT%H:%M:%SZ},{100 + 7 * (n % 5)}")
    (root / "customers.csv").write_text("\n".join(customers) + "\n", encoding="utf-8")
    (root / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    for kind in ("customers", "orders"):
        result = runner.invoke(main, ["import", kind, str(root / f"{kind}.csv"), "--config",
                                      str(root / "edm.yaml")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["classify", "--config", str(root / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "MBG/NBD" in result.output and "Gamma-Gamma" in result.output
    return root


def _show(folder: Path, key: str) -> dict[str, tuple[str, str]]:
    """`edm customers show KEY` as dimension -> (class, why), the wrapped cells joined again."""
    result = CliRunner().invoke(main, ["customers", "show", key, "--config", str(folder / "edm.yaml")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows: dict[str, list[str]] = {}
    name = ""
    for line in result.output.split("Recent moves")[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if not line.startswith("│") or len(cells) != 3:
            continue
        name = cells[0] or name
        parts = rows.setdefault(name, ["", ""])
        rows[name] = [" ".join(filter(None, (old, new))) for old, new in zip(parts, cells[1:], strict=True)]
    return {dimension: (shown, why) for dimension, (shown, why) in rows.items()}


def _row(card: dict[str, tuple[str, str]], dimension: str) -> str:
    """The class shown for `dimension` on the card."""
    return card[dimension][0]


def _why(card: dict[str, tuple[str, str]], dimension: str) -> str:
    return card[dimension][1]


def _profile(folder: Path, key: str) -> CustomerProfile:
    with open_store(load_settings(folder / "edm.yaml"))() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == key)).one()
        profile = session.get(CustomerProfile, customer.id)
        assert profile is not None
        return profile


def test_an_annual_buyer_on_their_usual_pace_is_not_at_risk(folder: Path) -> None:
    card = _show(folder, ANNUAL)
    assert _row(card, "lifecycle_stage") == "mature"
    assert _row(card, "loyalty") == "loyal"
    assert _row(card, "relationship_stage") != "interrupted"
    assert re.match(r"usually orders every 365 days; last order 20[12] days ago, 0.6×", _why(card, "rhythm"))
    assert _row(card, "next_order") == "in 164 days"  # a year after the last order
    profile = _profile(folder, ANNUAL)
    assert profile.probability_alive is not None and profile.probability_alive > 0.5


def test_a_customer_whose_pace_fell_is_at_risk_and_says_by_how_much(folder: Path) -> None:
    card = _show(folder, FALLING)
    assert _row(card, "lifecycle_stage") == "at_risk" and _row(card, "loyalty") == "at_risk"
    # one order day within the last 180 days (2 a year), against one every 20 days before (18.2 a year)
    assert _why(card, "lifecycle_stage") == (
        "2 order days a year over the last 180 days, 18.2 before: pace fell to 11.1% (at risk below 50%)")
    assert "1.7× the usual" in _why(card, "rhythm")  # not overdue enough to be at risk by silence alone


def test_the_falling_pace_customer_gets_re_engagement_and_the_annual_buyer_does_not(
    folder: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("EDM_SMTP__HOST", smtp_server.host)
    monkeypatch.setenv("EDM_SMTP__PORT", str(smtp_server.port))
    result = CliRunner().invoke(main, ["campaign", "run", "re_engagement", "--config",
                                       str(folder / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    received = {m["To"].addresses[0].addr_spec for m in smtp_server.handler.messages}
    assert f"{FALLING.lower()}@example.com" in received
    assert not {f"{key.lower()}@example.com" for key in (ANNUAL, BACK, ONCE_NEW)} & received


def test_a_customer_reacquired_long_ago_has_moved_on(folder: Path) -> None:
    card = _show(folder, BACK)
    assert _row(card, "lifecycle_stage") == "mature"
    back = r"back after a lapse 1,4\d\d days ago, 49 order days since \(mature: 365 days or more\)"
    assert re.fullmatch(back, _why(card, "lifecycle_stage"))
    profile = _profile(folder, BACK)
    assert profile.orders_since_return == 49 and profile.returned_at is not None


def test_one_time_buyers_have_a_churn_risk_that_grows_with_their_silence(folder: Path) -> None:
    old, new = _show(folder, ONCE_OLD), _show(folder, ONCE_NEW)
    old_risk = int(_row(old, "churn_risk").rstrip("%"))
    new_risk = int(_row(new, "churn_risk").rstrip("%"))
    assert old_risk > 50 and new_risk < 35, (old_risk, new_risk)
    silence = r"no order for 70[01] days; one order day so far \(MBG/NBD\)"
    assert re.fullmatch(silence, _why(old, "churn_risk"))
    assert _row(old, "lifecycle_stage") == "churned" and _row(new, "lifecycle_stage") == "new"


def test_a_prospect_has_no_churn_risk_rather_than_zero(folder: Path) -> None:
    CliRunner().invoke(main, ["import", "customers", str(_prospect_file(folder)), "--config",
                              str(folder / "edm.yaml")], catch_exceptions=False)
    CliRunner().invoke(main, ["classify", "--config", str(folder / "edm.yaml")], catch_exceptions=False)
    card = _show(folder, "PROSPECT")
    assert _row(card, "churn_risk") == "n/a" and _why(card, "churn_risk") == "no orders yet"
    assert _row(card, "next_order") == "n/a" and _row(card, "predicted_value") == "n/a"


def _prospect_file(folder: Path) -> Path:
    path = folder / "prospect.csv"
    path.write_text("external_id,name,kind,email\nPROSPECT,Someone,person,prospect@example.com\n",
                    encoding="utf-8")
    return path


def test_the_figures_behind_the_judgement_are_stored_for_audiences(folder: Path) -> None:
    annual, falling = _profile(folder, ANNUAL), _profile(folder, FALLING)
    assert annual.expected_interval_days == pytest.approx(365.0)
    assert annual.next_order_expected_at is not None and annual.last_order_at is not None
    assert (annual.next_order_expected_at - annual.last_order_at).days in (364, 365)
    assert falling.expected_orders_90d is not None and falling.expected_orders_90d > 1
    assert annual.predicted_value is not None and annual.predicted_value > 0
    with open_store(load_settings(folder / "edm.yaml"))() as session:  # a first profile records no move
        assert not session.scalars(select(ProfileTransition).where(
            ProfileTransition.dimension == "lifecycle_stage", ProfileTransition.new == "at_risk")).all()
