"""The bundled sample data: deterministic, valid for the importer, varied enough for the demo."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from email_validator import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from edm.config import ClassificationSettings
from edm.customers.classify import classify
from edm.customers.features import NO_LINE, CustomerColumns, OrderColumns, customer_features, epoch_day
from edm.errors import EdmError
from edm.sample import (
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_LINES,
    SampleFiles,
    generate_sample,
    segment_counts,
    write_sample_data,
)

TODAY = date(2026, 11, 24)


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
    assert ordered.max() <= pd.Timestamp(TODAY)
    assert ordered.min() >= pd.Timestamp(TODAY - timedelta(days=3 * 365 + 1))


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
    assert per["last_age"].between(150, 365).sum() >= 20  # at risk
    assert (per["first_age"] <= 90).sum() >= 10  # new
    steady = per[(per["first_age"] > 365) & (per["last_age"] <= 100)]
    assert len(steady) >= 50  # mature and still active
    reacquired = per[(per["max_gap"] > 365) & (per["last_age"] <= 60)]
    assert len(reacquired) >= 5


def test_segments_land_where_intended() -> None:
    people, orders = generate_sample(TODAY)
    assert orders == sorted(orders, key=lambda order: order.ordered_at)
    last = {order.customer_external_id: order.ordered_at for order in orders}
    first = {order.customer_external_id: order.ordered_at for order in reversed(orders)}
    for person in people:
        cid = person.external_id
        if person.segment == "prospect":
            assert cid not in last
            continue
        last_age, first_age = (TODAY - last[cid]).days, (TODAY - first[cid]).days
        if person.segment in {"new", "growing", "steady", "reacquired"}:
            assert last_age <= 100, person
        if person.segment == "new":
            assert first_age <= 90
        if person.segment == "growing":
            assert 90 < first_age <= 365
        if person.segment == "steady":
            assert first_age > 365
        if person.segment == "at_risk":
            assert 160 <= last_age <= 330
        if person.segment == "churned":
            assert 400 <= last_age <= 1000


def test_segment_counts_add_up_for_any_size() -> None:
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
    earliest = today - timedelta(days=3 * 365)
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
    intended = [{"steady": "mature"}.get(p.segment, p.segment) for p in people]
    assert stages.tolist() == intended
