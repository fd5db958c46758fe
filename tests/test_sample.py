"""The bundled sample data: deterministic, valid for the importer, varied enough for the demo."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from email_validator import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from edm.clock import FixedClock, epoch_day
from edm.config import ClassificationSettings
from edm.customers import import_customers, import_orders, recompute_profiles
from edm.customers.classify import classify
from edm.customers.features import NO_LINE, CustomerColumns, OrderColumns, customer_features
from edm.demo import OWN_CLOCK_COLUMNS, own_clock_kinds
from edm.errors import EdmError
from edm.sample import (
    CUSTOMER_COLUMNS,
    HISTORY_DAYS,
    INTENDED_STAGES,
    ORDER_COLUMNS,
    PRODUCT_LINES,
    SEGMENTS,
    SampleFiles,
    SampleOrder,
    generate_sample,
    segment_counts,
    write_sample_data,
)
from edm.store import Customer, CustomerProfile, create_schema, make_engine, session_factory

TODAY = date(2026, 11, 24)
NOW = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9, minutes=30)
RULES = ClassificationSettings()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    files = write_sample_data(tmp_path_factory.mktemp("sample"), TODAY)
    return _read(files)


def _read(files: SampleFiles) -> tuple[pd.DataFrame, pd.DataFrame]:
    customers = pd.read_csv(files.customers_csv, dtype=str, keep_default_na=False)
    orders = pd.read_csv(files.orders_csv, dtype=str, keep_default_na=False)
    return customers, orders


def _per_customer(orders: pd.DataFrame) -> pd.DataFrame:
    """First order, last order and longest gap between orders, in days before TODAY."""
    dated = orders.assign(ordered_at=pd.to_datetime(orders["ordered_at"]))
    dated = dated.sort_values(["customer_external_id", "ordered_at"])
    dated["gap"] = dated.groupby("customer_external_id")["ordered_at"].diff().dt.days
    today = pd.Timestamp(TODAY)
    per = dated.groupby("customer_external_id").agg(
        first=("ordered_at", "min"), last=("ordered_at", "max"), max_gap=("gap", "max")
    )
    per["first_age"] = (today - per["first"]).dt.days
    per["last_age"] = (today - per["last"]).dt.days
    return per


def test_same_seed_writes_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    one = write_sample_data(tmp_path / "one", TODAY, seed=7)
    two = write_sample_data(tmp_path / "two", TODAY, seed=7)
    other = write_sample_data(tmp_path / "other", TODAY, seed=8)
    for name in ("customers_csv", "orders_csv"):
        first = getattr(one, name).read_bytes()
        assert first == getattr(two, name).read_bytes()
        assert first != getattr(other, name).read_bytes()


def test_files_have_exactly_the_importer_columns(sample: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    customers, orders = sample
    assert tuple(customers.columns) == CUSTOMER_COLUMNS
    assert tuple(orders.columns) == ORDER_COLUMNS


def test_at_least_300_customers_with_unique_ids_and_emails(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    customers, orders = sample
    assert len(customers) >= 300
    assert customers["external_id"].is_unique
    assert customers["external_id"].str.fullmatch(r"C\d{4}").all()
    assert customers["email"].str.lower().is_unique
    assert orders["external_id"].is_unique
    assert orders["external_id"].str.fullmatch(r"O\d{6}").all()
    assert 1000 <= len(orders) <= 10000


def test_every_email_is_valid_ascii_on_a_reserved_domain(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    customers, _ = sample
    for email in customers["email"]:
        assert email.isascii()
        validated = validate_email(email, check_deliverability=False)
        assert validated.domain in {"example.com", "example.net", "example.org"}


def test_companies_and_persons_have_the_right_fields(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    customers, _ = sample
    companies = customers[customers["kind"] == "company"]
    persons = customers[customers["kind"] == "person"]
    assert len(companies) + len(persons) == len(customers)
    assert 0.45 < len(companies) / len(customers) < 0.75
    assert (companies["contact_name"] != "").all()
    assert (companies["birthday"] == "").all()
    founded = pd.to_datetime(companies["founded_on"])
    assert founded.dt.year.between(1985, 2022).all()
    assert (persons["contact_name"] == "").all()
    assert (persons["founded_on"] == "").all()
    assert pd.to_datetime(persons["birthday"]).lt(pd.Timestamp(TODAY)).all()
    allowed = {"manufacturing", "services", "trade", "other"}
    assert set(companies["industry"]) <= allowed
    assert set(persons["industry"]) <= allowed | {""}


def test_chinese_and_english_customers_both_appear(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    customers, _ = sample
    locales = set(customers["locale"])
    assert {"zh-CN", "zh-TW", "zh-HK", "en-US", "en-GB", "en-SG", "en-AU"} <= locales
    chinese = customers[customers["locale"].str.startswith("zh")]
    assert 0.35 < len(chinese) / len(customers) < 0.65
    assert chinese["name"].str.contains(r"[\u4e00-\u9fff]").all()
    assert chinese["timezone"].isin({"Asia/Shanghai", "Asia/Taipei", "Asia/Hong_Kong"}).all()
    english = customers[customers["locale"].str.startswith("en")]
    assert english["name"].str.isascii().all()
    assert english["timezone"].str.contains("/").all()


def test_every_order_belongs_to_a_customer_and_is_well_formed(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    customers, orders = sample
    assert set(orders["customer_external_id"]) <= set(customers["external_id"])
    assert orders["amount"].str.fullmatch(r"\d+\.\d{2}").all()
    assert all(Decimal(amount) > 0 for amount in orders["amount"])
    assert set(orders["product_line"]) == set(PRODUCT_LINES)


def test_orders_fall_within_the_last_three_years(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, orders = sample
    ordered = pd.to_datetime(orders["ordered_at"], format="%Y-%m-%d")
    assert HISTORY_DAYS == 3 * 365
    assert ordered.max() <= pd.Timestamp(TODAY)
    assert ordered.min() >= pd.Timestamp(TODAY - timedelta(days=HISTORY_DAYS))


def test_top_fifth_of_customers_make_most_of_the_revenue(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    customers, orders = sample
    revenue = orders.assign(amount=orders["amount"].map(Decimal))
    per_customer = (
        revenue.groupby("customer_external_id")["amount"].sum().sort_values(ascending=False)
    )
    top = per_customer.head(len(customers) // 5).sum()
    assert top / per_customer.sum() > Decimal("0.5")
    kinds = customers.set_index("external_id")["kind"]
    by_kind = per_customer.groupby(kinds).median()
    assert by_kind["company"] > by_kind["person"]


def test_every_lifecycle_segment_is_present(sample: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    customers, orders = sample
    per = _per_customer(orders)
    prospects = set(customers["external_id"]) - set(per.index)
    assert len(prospects) >= 5
    assert (per["last_age"] > 365).sum() >= 20  # churned
    assert per["last_age"].between(40, 180).sum() >= 20  # at risk (by their own interval)
    assert (per["first_age"] <= 90).sum() >= 10  # new
    steady = per[(per["first_age"] > 365) & (per["last_age"] <= 100)]
    assert len(steady) >= 50  # mature and still active
    reacquired = per[(per["max_gap"] > 365) & (per["last_age"] <= 60)]
    assert len(reacquired) >= 5


def _order_ages(orders: list[SampleOrder], today: date) -> dict[str, list[int]]:
    """Each customer's distinct order days as ages (days before `today`), newest first."""
    ages: dict[str, set[int]] = {}
    for order in orders:
        ages.setdefault(order.customer_external_id, set()).add((today - order.ordered_at).days)
    return {cid: sorted(days) for cid, days in ages.items()}


def _mean_gap(ages: list[int]) -> float:
    return (ages[-1] - ages[0]) / (len(ages) - 1)


def test_segments_land_where_intended() -> None:
    """The order dates of each segment have the shape it is built for (checked on the raw dates)."""
    people, orders = generate_sample(TODAY)
    assert orders == sorted(orders, key=lambda order: order.ordered_at)
    days = _order_ages(orders, TODAY)
    for person in people:
        cid, segment = person.external_id, person.segment
        if segment == "prospect":
            assert cid not in days
            continue
        ages = days[cid]
        last_age, first_age = ages[0], ages[-1]
        gaps = np.diff(ages)
        if segment in {"new", "growing", "steady", "reacquired", "old_reacquired"}:
            assert last_age <= 100, person
        if segment == "new":
            assert first_age <= 90 and last_age <= 30
        if segment == "growing":
            assert 90 < first_age <= 365
        if segment == "steady":
            assert first_age > 365
        if segment == "at_risk":  # silent well over twice their own interval, not yet 180 days
            assert last_age < 180 and last_age >= 2.2 * _mean_gap(ages), person
        if segment == "churned":
            assert 400 <= last_age <= 1000
        if segment == "annual":  # three order days about a year apart, the last 100-300 days ago
            assert len(ages) == 3 and 100 <= last_age <= 300
            assert all(300 <= gap <= 400 for gap in gaps)
        if segment == "falling_pace":  # every 15-40 days, then one order day in the last 180
            recent = [age for age in ages if age <= 180]
            before = np.diff([age for age in ages if age > 180])
            assert len(recent) == 1 and len(before) >= 4
            assert 15 * 0.7 <= before.mean() <= 40 * 1.3
            assert gaps.max() <= 180  # no lapse, so no return
            assert last_age < 2 * _mean_gap(ages)  # not late twice their interval
        if segment == "one_time":
            assert len(ages) == 1 and 150 <= last_age <= 1000
        if segment == "reacquired":
            assert gaps.max() > 400 and last_age < 60
        if segment == "old_reacquired":  # a lapse of 400+ days, back over a year ago, regular since
            lapse = int(np.argmax(gaps))  # ages[lapse] is the return, ages[:lapse + 1] the orders since
            assert gaps[lapse] >= 400 and ages[lapse] > 365 and lapse + 1 >= 3


def test_segment_counts_add_up_for_any_size() -> None:
    assert math.isclose(sum(SEGMENTS.values()), 1.0)
    assert set(INTENDED_STAGES) == set(SEGMENTS)
    for size in (1, 7, 20, 299, 360, 1001):
        counts = segment_counts(size)
        assert sum(counts.values()) == size
    assert min(segment_counts(360).values()) >= 18


@settings(max_examples=25, deadline=None)
@given(
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    seed=st.integers(min_value=0, max_value=2**32),
    size=st.integers(min_value=1, max_value=400),
)
def test_any_day_seed_and_size_give_valid_data(today: date, seed: int, size: int) -> None:
    people, orders = generate_sample(today, customers=size, seed=seed)
    assert len(people) == size
    assert len({p.email for p in people}) == size
    ids = {p.external_id for p in people}
    earliest = today - timedelta(days=HISTORY_DAYS)
    for order in orders:
        assert order.customer_external_id in ids
        assert earliest <= order.ordered_at <= today
        assert order.amount > 0
        assert order.amount == order.amount.quantize(Decimal("0.01"))


def test_a_customer_count_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EdmError, match="at least 1 customer"):
        write_sample_data(tmp_path, TODAY, customers=0)


@pytest.mark.parametrize(
    ("today", "seed"), [(TODAY, 20261124), (date(2024, 2, 29), 1), (date(2031, 1, 1), 99)]
)
def test_classification_puts_every_customer_in_the_intended_stage(today: date, seed: int) -> None:
    """End to end with the real figures and classifier: each generated segment is read as its stage."""
    people, orders = generate_sample(today, seed=seed)
    number = {p.external_id: n for n, p in enumerate(people, start=1)}
    stamps = pd.to_datetime([o.ordered_at for o in orders]).tz_localize("UTC")
    customers = CustomerColumns(
        customer_id=np.arange(1, len(people) + 1, dtype=np.int64),
        industry_text=[p.industry or "" for p in people],
        share=np.full(len(people), np.nan),
        category_spend=np.full(len(people), np.nan),
        engaged_day=np.full(len(people), np.nan),
    )
    columns = OrderColumns(
        customer_id=np.array([number[o.customer_external_id] for o in orders], dtype=np.int64),
        day=np.asarray(stamps.as_unit("ns").asi8 / 86_400e9, dtype=float),
        amount=np.array([float(o.amount) for o in orders]),
        margin=np.full(len(orders), np.nan),
        line=np.full(len(orders), NO_LINE, dtype=np.int64),
        line_names=(),
    )
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    rules = ClassificationSettings()
    features, _ = customer_features(customers, columns, epoch_day(now), rules)
    stages = classify(features, rules)[0]["lifecycle_stage"]
    misplaced = [(p.external_id, p.segment, stage) for p, stage in zip(people, stages, strict=True)
                 if stage not in INTENDED_STAGES[p.segment]]
    assert misplaced == []


# --- through the library, as `edm demo` runs it: import the files, classify, read the profiles ---


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """The sample imported into a SQLite store and classified: one row per customer with its
    segment and stored profile, and the profile rows `edm demo` counts the kinds from."""
    folder = tmp_path_factory.mktemp("stored")
    files = write_sample_data(folder, TODAY)
    engine = make_engine(f"sqlite:///{folder / 'edm.db'}")
    create_schema(engine)
    sessions = session_factory(engine)
    clock = FixedClock(NOW)
    import_customers(sessions, files.customers_csv, clock)
    import_orders(sessions, files.orders_csv)
    recompute_profiles(sessions, RULES, clock)
    columns = [getattr(CustomerProfile, name) for name in OWN_CLOCK_COLUMNS]
    with sessions() as session:
        found = session.execute(
            select(Customer.external_id, CustomerProfile.loyalty, *columns)
            .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        ).mappings().all()
    engine.dispose()
    rows = [dict(row) for row in found]
    segments = {person.external_id: person.segment for person in generate_sample(TODAY)[0]}
    profiles = pd.DataFrame(rows).set_index("external_id")
    profiles["segment"] = profiles.index.map(segments)
    profiles["days_since_last"] = (NOW - profiles["last_order_at"]).dt.days
    return profiles, rows


def _segment(stored: tuple[pd.DataFrame, list[dict[str, object]]], name: str) -> pd.DataFrame:
    profiles = stored[0]
    chosen = profiles[profiles["segment"] == name]
    assert len(chosen) >= 18, name
    return chosen


def test_through_the_store_every_segment_lands_in_its_stage(
    stored: tuple[pd.DataFrame, list[dict[str, object]]],
) -> None:
    profiles = stored[0]
    assert len(profiles) == sum(segment_counts(360).values())
    pairs = zip(profiles["lifecycle_stage"], profiles["segment"], strict=True)
    misplaced = profiles[[stage not in INTENDED_STAGES[segment] for stage, segment in pairs]]
    assert misplaced.empty, misplaced[["segment", "lifecycle_stage"]]


def test_annual_buyers_months_after_their_last_order_are_on_time(
    stored: tuple[pd.DataFrame, list[dict[str, object]]],
) -> None:
    annual = _segment(stored, "annual")
    on_time = ~annual["lifecycle_stage"].isin(["at_risk", "churned"])
    assert on_time.mean() >= 0.9
    assert (annual["expected_interval_days"] >= 300).all()
    assert annual["days_since_last"].between(100, 300).all()
    assert (annual["loyalty"].isin(["loyal", "fairly_loyal"])).mean() >= 0.9


def test_buyers_whose_pace_fell_are_at_risk_before_they_are_late(
    stored: tuple[pd.DataFrame, list[dict[str, object]]],
) -> None:
    falling = _segment(stored, "falling_pace")
    assert (falling["lifecycle_stage"] == "at_risk").mean() >= 0.8
    # the pace, not the silence, put them there: under twice their interval since the last order
    late = falling["days_since_last"] / falling["expected_interval_days"]
    assert (late < RULES.lifecycle.at_risk_overdue).all()
    ratio = RULES.lifecycle.falling_ratio
    assert (falling["recent_orders_per_year"] < ratio * falling["usual_orders_per_year"]).all()
    assert falling["returned_at"].isna().all()


def test_customers_back_from_a_lapse_long_ago_are_growing_or_mature(
    stored: tuple[pd.DataFrame, list[dict[str, object]]],
) -> None:
    back = _segment(stored, "old_reacquired")
    assert back["lifecycle_stage"].isin(["growing", "mature"]).all()
    assert back["returned_at"].notna().all()
    assert ((NOW - back["returned_at"]).dt.days > 365).all()
    recent = _segment(stored, "reacquired")  # those back within 60 days still are reacquired
    assert (recent["lifecycle_stage"] == "reacquired").all()


def test_one_time_buyers_churn_risk_rises_with_their_silence(
    stored: tuple[pd.DataFrame, list[dict[str, object]]],
) -> None:
    once = _segment(stored, "one_time").sort_values("days_since_last")
    assert (once["order_days"] == 1).all()
    risk = 1 - once["probability_alive"].to_numpy(dtype=float)
    assert not np.isnan(risk).any()
    assert (np.diff(risk) >= -1e-12).all()  # never lower for a longer silence
    assert risk[-1] - risk[0] > 0.2
    assert once["lifecycle_stage"].isin(["at_risk", "churned"]).all()


def test_the_demo_counts_the_kinds_the_sample_holds(
    stored: tuple[pd.DataFrame, list[dict[str, object]]],
) -> None:
    """`edm demo` judges from the stored profiles alone; it finds (nearly) every customer of each kind."""
    profiles, rows = stored
    kinds = own_clock_kinds(rows, RULES)
    size = profiles["segment"].value_counts()
    assert 0.9 * size["annual"] <= kinds.annual_on_time <= size["annual"]
    assert 0.8 * size["falling_pace"] <= kinds.pace_fell <= size["falling_pace"]
    assert kinds.one_time == size["one_time"]
    assert kinds.back_long_ago == size["old_reacquired"]
    assert kinds.one_time_risk is not None
    low, high = kinds.one_time_risk
    assert 0 < low < high < 1
