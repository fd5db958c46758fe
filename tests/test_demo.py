"""`edm demo`: the count of the kinds only a customer's own clock tells apart (from plain profile
rows), the orders simulated after its mail, and what its report and last lines make of them
(the whole default demo, once per module, through the CLI; its report opened in Chromium).

tests/test_cli.py runs a small demo end to end; tests/test_sample.py checks the counts on the
bundled sample.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from edm.cli import main
from edm.config import ClassificationSettings, LifecycleRules
from edm.demo import (
    MIN_GROUP,
    OWN_CLOCK_COLUMNS,
    OwnClockKinds,
    format_own_clock,
    own_clock_kinds,
    what_worked,
)
from edm.sample import (
    MAIL_EFFECTS,
    ORDER_RATES,
    Exposure,
    SampleCustomer,
    generate_sample,
    orders_after_mail,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
RULES = ClassificationSettings()


def _row(stage: str, *, order_days: int = 12, interval: float | None = 30.0, silent_days: float = 10,
         returned_days_ago: int | None = None, recent: float = 12.0, usual: float | None = 12.0,
         alive: float | None = 0.9) -> dict[str, Any]:
    row = {
        "lifecycle_stage": stage,
        "order_days": order_days,
        "expected_interval_days": interval,
        "returned_at": None if returned_days_ago is None else NOW - timedelta(days=returned_days_ago),
        "recent_orders_per_year": recent,
        "usual_orders_per_year": usual,
        "probability_alive": alive,
        "last_order_at": NOW - timedelta(days=silent_days),
        "computed_at": NOW,
    }
    assert set(row) == set(OWN_CLOCK_COLUMNS)
    return row


def test_annual_buyers_on_time_have_a_year_long_interval_and_are_growing_or_mature() -> None:
    rows = [
        _row("mature", order_days=3, interval=365, silent_days=250),  # on time
        _row("growing", order_days=3, interval=300, silent_days=120),  # on time, at the bound
        _row("at_risk", order_days=3, interval=365, silent_days=800),  # late: not on time
        _row("churned", order_days=3, interval=365, silent_days=1200),
        _row("mature", interval=299),  # a shorter rhythm
        _row("mature", order_days=5, interval=320, returned_days_ago=400),  # back after a lapse instead
    ]
    kinds = own_clock_kinds(rows, RULES)
    assert kinds.annual_on_time == 2
    assert kinds.back_long_ago == 1


def test_pace_fell_counts_the_at_risk_whose_pace_not_silence_put_them_there() -> None:
    rows = [
        _row("at_risk", interval=30, silent_days=20, recent=2.0, usual=12.0),  # counted
        _row("at_risk", interval=30, silent_days=59.9, recent=2.0, usual=12.0),  # 59 whole days: 1.97x
        _row("at_risk", interval=30, silent_days=60, recent=2.0, usual=12.0),  # 2x late: the silence
        _row("at_risk", interval=30, silent_days=20, recent=6.0, usual=12.0),  # exactly half: no fall
        _row("at_risk", interval=30, silent_days=20, recent=2.0, usual=None),  # usual pace unknown
        _row("mature", interval=30, silent_days=20, recent=2.0, usual=12.0),  # not at risk
    ]
    assert own_clock_kinds(rows, RULES).pace_fell == 2
    stricter = ClassificationSettings(lifecycle=LifecycleRules(falling_ratio=0.1))
    assert own_clock_kinds(rows, stricter).pace_fell == 0


def test_one_time_buyers_past_new_with_their_range_of_churn_risk() -> None:
    rows = [
        _row("at_risk", order_days=1, silent_days=160, alive=0.6),
        _row("churned", order_days=1, silent_days=900, alive=0.05),
        _row("churned", order_days=1, silent_days=400, alive=None),  # no model: counted, no risk
        _row("new", order_days=1, silent_days=5, alive=0.99),  # just started, not a one-time buyer yet
        _row("mature", order_days=2),
    ]
    kinds = own_clock_kinds(rows, RULES)
    assert kinds.one_time == 3
    assert kinds.one_time_risk == pytest.approx((0.4, 0.95))


def test_back_after_a_lapse_long_ago_only_once_no_longer_reacquired() -> None:
    rows = [
        _row("mature", returned_days_ago=420),
        _row("growing", returned_days_ago=200, order_days=9),
        _row("reacquired", returned_days_ago=30),
        _row("at_risk", returned_days_ago=500, silent_days=200),
    ]
    assert own_clock_kinds(rows, RULES).back_long_ago == 2


def test_no_profiles_count_nothing_and_the_line_says_so() -> None:
    kinds = own_clock_kinds([], RULES)
    assert kinds == OwnClockKinds(0, 0, 0, None, 0)
    assert "0 one-time buyers (churn risk n/a)" in format_own_clock(kinds)


def test_the_line() -> None:
    line = format_own_clock(OwnClockKinds(14, 11, 20, (0.341, 0.968), 9))
    assert line == ("Judged by their own clock: 14 annual buyers on time, 11 whose pace fell (at risk before "
                    "they were late), 20 one-time buyers (churn risk 34%–97%), 9 back after a lapse long ago "
                    "(now growing or mature)")


# --- Orders after the mail (edm/sample.py) ------------------------------------------------------

TODAY = date(2026, 11, 24)
START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _split(people: list[SampleCustomer], segment: str) -> tuple[dict[str, Exposure], list[str], list[str]]:
    """Every customer of `segment` in win_back: alternately mailed and held out."""
    chosen = [person.external_id for person in people if person.segment == segment]
    mailed, held = chosen[::2], chosen[1::2]
    exposures = {customer: Exposure(START, MAIL_EFFECTS["win_back"], "win_back") for customer in mailed}
    later = START + timedelta(hours=3)
    exposures |= {customer: Exposure(later, 0.0, "holdout:win_back") for customer in held}
    return exposures, mailed, held


def test_orders_after_the_mail_follow_the_stated_rates_and_effect_deterministically() -> None:
    people, history = generate_sample(TODAY, customers=2000)
    exposures, mailed, held = _split(people, "churned")
    orders = orders_after_mail(people, history, exposures, START)
    assert orders == orders_after_mail(people, history, exposures, START)  # seeded: the same every time
    assert orders != orders_after_mail(people, history, exposures, START, seed=1)
    buyers = {order.customer_external_id for order in orders}
    assert len(buyers) == len(orders)  # one order each at most
    base, effect = ORDER_RATES["churned"], MAIL_EFFECTS["win_back"]
    # each group's share of buyers is its rate to within one customer (a golden-ratio sequence, not luck)
    assert abs(len(buyers & set(mailed)) - (base + effect) * len(mailed)) <= 1
    assert abs(len(buyers & set(held)) - base * len(held)) <= 1
    for segment, rate in ORDER_RATES.items():  # the customers in no campaign order at their base rate
        alone = [p.external_id for p in people if p.segment == segment and p.external_id not in exposures]
        assert abs(len(buyers & set(alone)) - rate * len(alone)) <= 1, segment


def test_each_order_comes_within_the_window_after_its_mail_for_about_the_customers_usual_amount() -> None:
    people, history = generate_sample(TODAY, customers=400)
    exposures, _, _ = _split(people, "steady")
    orders = orders_after_mail(people, history, exposures, START, days=20)
    assert orders and [o.external_id for o in orders] == [f"M{n:06d}" for n in range(1, len(orders) + 1)]
    own: dict[str, list[Decimal]] = {}
    for order in history:
        own.setdefault(order.customer_external_id, []).append(order.amount)
    for order in orders:
        assert isinstance(order.ordered_at, datetime)
        since = exposures.get(order.customer_external_id, Exposure(START, 0.0, "")).since
        assert since < order.ordered_at < since + timedelta(days=20)
        if order.customer_external_id in own:  # their usual order, give or take the noise
            usual = float(median(own[order.customer_external_id]))
            assert usual / 4 <= float(order.amount) <= usual * 4 or order.amount == Decimal("5.00")


# --- The demo's last lines (pure) ---------------------------------------------------------------

def _uplift(*rows: tuple[str, int, int, int, int, float, float]) -> pd.DataFrame:
    """Rows as the report's uplift table has them: (campaign, mailed, buyers, holdout, buyers, low, high)."""
    return pd.DataFrame.from_records([
        {"campaign": name, "mailed": mailed, "mailed_buyers": bought, "holdout": held, "holdout_buyers": kept,
         "mailed_order_rate": bought / mailed, "holdout_order_rate": kept / held,
         "order_rate_uplift": bought / mailed - kept / held, "order_rate_low": low, "order_rate_high": high}
        for name, mailed, bought, held, kept, low, high in rows
    ])


def test_what_worked_gives_rates_uplift_and_interval_and_says_when_it_cannot_tell() -> None:
    table = _uplift(("win_back", 200, 36, 100, 7, 0.034, 0.19),
                    ("birthday", 12, 3, MIN_GROUP - 1, 1, -0.3, 0.4),
                    ("re_engagement", 50, 8, 20, 2, -0.12, 0.2))
    header, clear, small, unclear, hint = what_worked(table, 30, 0.95, 360)
    assert "95%" in header and "30 days" in header
    assert clear == ("   win_back: 18% of mailed customers ordered within 30 days vs 7% of the holdout, "
                     "+11 points [3, 19]")
    assert small == (f"   birthday: too few to tell (12 mailed, {MIN_GROUP - 1} in the holdout; "
                     f"{MIN_GROUP} of each at least)")
    assert unclear.startswith("   re_engagement: 16% of mailed") and "+6 points [-12, 20]" in unclear
    assert unclear.endswith("no clear effect: the interval includes 0")
    assert "edm demo --customers 3000" in hint
    assert what_worked(table.iloc[:1], 30, 0.95, 360)[-1] == clear  # all clear: no hint
    assert "no campaign had a holdout" in what_worked(table.iloc[:0], 30, 0.95, 360)[0]
    assert "no campaign had a holdout" in what_worked(None, 30, 0.95, 360)[0]


# --- The whole default demo, once ---------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LINE = re.compile(r"^   (\w+): (\d+)% of mailed customers ordered within 30 days vs (\d+)% of the holdout, "
                  r"([+-]\d+) points \[(-?\d+), (-?\d+)\]", re.MULTILINE)
TOO_FEW = re.compile(r"^   (\w+): too few to tell \((\d+) mailed, (\d+) in the holdout", re.MULTILINE)


@dataclass(frozen=True)
class Demo:
    folder: Path
    output: str
    uplift: pd.DataFrame  # the report's uplift table, as `edm report engagement` exports it


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("demo") / "edm-demo"
    result = CliRunner().invoke(main, ["demo", "--dir", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = folder.parent / "e.csv"
    exported = CliRunner().invoke(main, ["report", "engagement", "--config", str(folder / "edm.yaml"),
                                         "--by", "campaign", "--format", "csv", "--out", str(out)],
                                  catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    yield Demo(folder, result.stdout, pd.read_csv(folder.parent / "e-uplift.csv", encoding="utf-8-sig"))


def test_the_demos_report_has_orders_and_revenue_after_its_mail(demo: Demo) -> None:
    engagement = re.search(r"11\. Engagement: .*, orders (\d+), revenue ([\d,.]+)", demo.output)
    assert engagement, demo.output
    assert int(engagement.group(1)) > 0 and float(engagement.group(2).replace(",", "")) > 0
    simulated = re.search(r"(\d+) customers had ordered since their mail, revenue ([\d,.]+)", demo.output)
    assert simulated and int(simulated.group(1)) >= int(engagement.group(1)), demo.output
    assert (demo.folder / "orders-after-mail.csv").exists()
    page = (demo.folder / "report.html").read_text(encoding="utf-8")
    cards = dict(re.findall(r'<div class="label">([^<]*)</div>\s*<div class="value">([^<]*)</div>', page))
    orders = next(value for label, value in cards.items() if label.startswith("Orders"))
    revenue = next(value for label, value in cards.items() if label.startswith("Revenue"))
    assert orders == engagement.group(1) and revenue == engagement.group(2)


def test_win_back_mailed_customers_order_more_often_than_its_holdout(demo: Demo) -> None:
    [win_back] = demo.uplift[demo.uplift["campaign"] == "win_back"].to_dict("records")
    assert win_back["mailed"] >= MIN_GROUP and win_back["holdout"] >= MIN_GROUP
    assert win_back["mailed_order_rate"] > win_back["holdout_order_rate"]
    assert win_back["order_rate_low"] < win_back["order_rate_uplift"] < win_back["order_rate_high"]


def test_the_last_lines_say_what_worked_with_the_numbers_of_the_reports_table(demo: Demo) -> None:
    tail = demo.output[demo.output.index("What worked"):]
    said = {match.group(1): match for match in LINE.finditer(tail)}
    too_few = {match.group(1): match for match in TOO_FEW.finditer(tail)}
    assert "win_back" in said, tail
    assert set(said) | set(too_few) == set(demo.uplift["campaign"]) and not set(said) & set(too_few)
    for row in demo.uplift.to_dict("records"):
        if row["campaign"] in too_few:
            found = too_few[row["campaign"]]
            assert (int(found.group(2)), int(found.group(3))) == (row["mailed"], row["holdout"])
            assert min(row["mailed"], row["holdout"]) < MIN_GROUP
            continue
        found = said[row["campaign"]]
        figures = ("mailed_order_rate", "holdout_order_rate", "order_rate_uplift", "order_rate_low",
                   "order_rate_high")
        for number, column in enumerate(figures, start=2):  # whole points, rounded from the table
            assert abs(int(found.group(number)) - row[column] * 100) <= 0.5 + 1e-9, (column, row)
        clear = not row["order_rate_low"] <= 0 <= row["order_rate_high"]
        line = tail[found.start():].splitlines()[0]
        assert line.endswith("the interval includes 0") != clear, line


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_uplift_section_renders_in_chromium(demo: Demo) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto((demo.folder / "report.html").as_uri(), wait_until="load")
            # the section: id="uplift" where the page gives one, else the one headed "Uplift ..."
            section = page.evaluate_handle("""() => document.getElementById('uplift')
                || [...document.querySelectorAll('section')].find(
                       s => /uplift/i.test(s.querySelector('h2')?.textContent || ''))""").as_element()
            assert section is not None, "no uplift section in report.html"
            assert section.is_visible()
            found = section.evaluate("""s => ({
                headers: [...s.querySelectorAll('table th')].map(c => c.textContent.trim()),
                rows: [...s.querySelectorAll('table tbody tr')].map(  // a campaign's slug is its title
                    r => [...r.querySelectorAll('td')].map((c, i) => i === 0 && c.title
                                                           ? c.title : c.textContent.trim())),
                images: [...s.querySelectorAll('img')].map(i => {
                    i.scrollIntoView();
                    return {w: i.naturalWidth, h: i.naturalHeight, complete: i.complete,
                            shown: i.getBoundingClientRect().width > 0};
                }),
            })""")
            assert problems == [], problems
        finally:
            browser.close()
    rows = {row[0]: row for row in found["rows"]}
    assert set(rows) == set(demo.uplift["campaign"]), found["rows"]
    win_back = rows["win_back"]
    assert sum(bool(re.search(r"\d", cell)) for cell in win_back) >= 5, win_back
    # the interval: two bound columns, or one "[low, high]" cell
    bounds = [i for i, header in enumerate(found["headers"])
              if re.search(r"CI (low|high)|interval", header, re.IGNORECASE)]
    shown = [cell for i, cell in enumerate(win_back) if i in bounds]
    assert any(re.search(r"\[.*-?\d.*,.*-?\d.*\]", cell) for cell in win_back) or (
        len(shown) >= 2 and all(re.search(r"-?\d+(\.\d+)?%?", cell) for cell in shown)), found
    assert found["images"], "the uplift section has no chart"
    assert all(i["complete"] and i["w"] > 0 and i["h"] > 0 and i["shown"] for i in found["images"]), found
