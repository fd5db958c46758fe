"""Profiles recomputed from the store: every class stored, transitions recorded, nothing lost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rich.table import Table
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from edm.classes import DIMENSIONS, INDUSTRIES
from edm.cli import card_tables, render
from edm.clock import FixedClock
from edm.config import ClassificationSettings
from edm.customers import recompute_profiles
from edm.customers.card import customer_card
from edm.store import (
    ClassificationRun,
    Customer,
    CustomerProfile,
    Event,
    Order,
    ProfileTransition,
    WalletEstimate,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = ClassificationSettings()  # each customer's own rhythm: at risk 2x, churned 3x their interval

# customer -> orders as (days ago, amount, margin, product line). Fewer than 30 customers have
# three order days, so everyone's expected interval leans on the median mean gap of those who
# do: only "mature" (every 80 days), so the peers' interval is 80 days.
Row = tuple[float, str, str | None, str | None]
HISTORY: dict[str, list[Row]] = {
    "prospect": [],
    "lead": [],
    "new": [(10, "100.00", None, None)],  # expected every 80 days, like the peers
    "mature": [(420, "2000.00", "600.00", "ink"), (340, "1000.00", "300.00", "paper"),
               (260, "1500.00", "450.00", "ink"), (180, "1000.00", "300.00", "ink"),
               (100, "1500.00", "500.00", "ink"), (20, "1000.00", "300.00", "ink")],
    # two order days a day apart (expected every (2·80 + 1) / 3 ≈ 54 days), silent 7× that
    "churned": [(400, "0.10", None, None), (399.5, "0.20", None, None)],
    # silent for 1190 days, longer than churned_days (1095) whatever the rhythm: back 10 days ago
    "reacquired": [(1200, "800.00", None, None), (10.25, "900.00", None, None), (10, "700.00", None, None)],
    # one gap of 60 days (expected every (2·80 + 60) / 3 ≈ 73 days), silent 175: 2.4×, under 180
    "at_risk": [(235, "50.00", None, None), (175, "60.00", None, None)],
}
PEERS = 80.0


def _seed(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as session:
        for name in HISTORY:
            session.add(Customer(external_id=name, name=f"客户 {name}", email=f"{name}@example.com",
                                 kind="company", locale="zh-CN", timezone="Asia/Shanghai",
                                 industry="制造业" if name == "mature" else None, created_at=NOW))
        session.flush()
        ids = dict(session.execute(select(Customer.external_id, Customer.id)).all())
        for name, orders in HISTORY.items():
            for n, (days, amount, margin, line) in enumerate(orders):
                session.add(Order(external_id=f"{name}-{n}", customer_id=ids[name],
                                  ordered_at=NOW - timedelta(days=days), amount=Decimal(amount),
                                  margin=None if margin is None else Decimal(margin), product_line=line))
        session.add(Event(kind="click", customer_id=ids["lead"], occurred_at=NOW - timedelta(days=5)))
        session.add(WalletEstimate(customer_id=ids["mature"], share=0.6, estimated_on=date(2026, 1, 1)))
    return ids


def _profiles(sessions: sessionmaker[Session], ids: dict[str, int]) -> dict[str, CustomerProfile]:
    names = {v: k for k, v in ids.items()}
    with sessions() as session:
        return {names[p.customer_id]: p for p in session.scalars(select(CustomerProfile))}


def _transitions(sessions: sessionmaker[Session]) -> list[tuple[int, str, str | None, str]]:
    with sessions() as session:
        query = select(ProfileTransition.customer_id, ProfileTransition.dimension,
                       ProfileTransition.old, ProfileTransition.new)
        return [tuple(row) for row in session.execute(query.order_by(ProfileTransition.id))]  # type: ignore[misc]


def test_profiles_hold_every_class_and_the_figures_behind_them(any_sessions: sessionmaker[Session]) -> None:
    ids = _seed(any_sessions)
    summary = recompute_profiles(any_sessions, RULES, FixedClock(NOW))
    profiles = _profiles(any_sessions, ids)
    assert {name: p.lifecycle_stage for name, p in profiles.items()} == {name: name for name in HISTORY}
    assert summary.total == 7 and summary.first_profiles == 7 and summary.customers_moved == 0
    assert summary.counts["lifecycle_stage"] == {stage: 1 if stage in HISTORY else 0
                                                 for stage in DIMENSIONS["lifecycle_stage"]}
    assert {dimension: sum(counts.values()) for dimension, counts in summary.counts.items()} == {
        dimension: 7 for dimension in DIMENSIONS
    }
    mature = profiles["mature"]
    assert (mature.order_count, mature.order_days, mature.revenue) == (6, 6, Decimal("8000.00"))
    assert mature.margin == Decimal("2450.00") and abs(mature.margin_rate - 2450 / 8000) < 1e-9
    assert mature.annual_revenue == Decimal("6000.00")
    assert (mature.value_tier, mature.industry) == ("high", "manufacturing")
    assert mature.relationship_stage == "middle"
    assert mature.first_order_at == NOW - timedelta(days=420)
    assert mature.last_order_at == NOW - timedelta(days=20)
    assert mature.expected_interval_days == PEERS
    assert mature.next_order_expected_at == datetime(2026, 2, 9, tzinfo=UTC) + timedelta(days=80)
    assert (mature.returned_at, mature.orders_since_return) == (None, None)
    assert mature.computed_at == NOW
    reacquired = profiles["reacquired"]
    assert reacquired.returned_at == datetime(2026, 2, 19, tzinfo=UTC)  # the day of the return
    assert (reacquired.order_count, reacquired.order_days, reacquired.orders_since_return) == (3, 2, 1)
    assert reacquired.loyalty == "loyal"  # a customer for 1200 days, buying again
    assert profiles["new"].expected_interval_days == PEERS
    assert profiles["lead"].last_engaged_at == NOW - timedelta(days=5)
    prospect = profiles["prospect"]
    assert (prospect.order_count, prospect.revenue, prospect.value_tier) == (0, Decimal("0"), "low")
    assert prospect.first_order_at is None and prospect.probability_alive is None
    assert prospect.expected_interval_days is None and prospect.next_order_expected_at is None
    assert (prospect.purchase_frequency, prospect.churn_kind, prospect.relationship_stage) == (
        "none", "none", "gestation")
    assert profiles["churned"].churn_kind == "full" and profiles["churned"].loyalty == "churned"
    assert (profiles["at_risk"].loyalty, profiles["at_risk"].relationship_stage) == ("at_risk", "interrupted")
    assert 0.0 <= profiles["at_risk"].probability_alive <= 1.0
    assert summary.models.churn is not None and summary.models.churn.modified
    assert summary.models.peer_intervals == {industry: PEERS for industry in INDUSTRIES}
    with any_sessions() as session:
        run = session.scalars(select(ClassificationRun)).one()
    assert run.churn_model["churn"]["model"] == "MBG/NBD"
    assert run.churn_model["peer_intervals"] == {industry: PEERS for industry in INDUSTRIES}


def test_recompute_records_only_real_moves_and_keeps_the_contact_interval(
    any_sessions: sessionmaker[Session],
) -> None:
    ids = _seed(any_sessions)
    clock = FixedClock(NOW)
    recompute_profiles(any_sessions, RULES, clock)
    interval_at = NOW - timedelta(hours=3)
    with any_sessions.begin() as session:
        session.execute(
            update(CustomerProfile)
            .where(CustomerProfile.customer_id == ids["at_risk"])
            .values(contact_interval_days=10.5, interval_updated_at=interval_at)
        )
    again = recompute_profiles(any_sessions, RULES, clock)
    assert (again.customers_moved, again.first_profiles, again.moved_into) == (0, 0, {})
    # a first profile is no move, except that a customer first seen as new entered that stage
    assert _transitions(any_sessions) == [(ids["new"], "lifecycle_stage", None, "new")]

    with any_sessions.begin() as session:
        session.add(Order(external_id="at_risk-back", customer_id=ids["at_risk"],
                          ordered_at=NOW, amount=Decimal("10.00")))
    clock.advance(timedelta(days=1))
    summary = recompute_profiles(any_sessions, RULES, clock)
    profile = _profiles(any_sessions, ids)["at_risk"]
    assert (profile.lifecycle_stage, profile.order_count) == ("growing", 3)
    assert profile.revenue == Decimal("120.00")
    assert profile.computed_at == NOW + timedelta(days=1)
    assert (profile.contact_interval_days, profile.interval_updated_at) == (10.5, interval_at)
    moves = [m for m in _transitions(any_sessions) if m[0] == ids["at_risk"]]
    assert (ids["at_risk"], "lifecycle_stage", "at_risk", "growing") in moves
    assert summary.moved_into["lifecycle_stage"]["growing"] >= 1
    with any_sessions() as session:
        stamps = set(session.scalars(select(ProfileTransition.computed_at)))
        runs = session.scalars(select(ClassificationRun).order_by(ClassificationRun.id)).all()
    assert stamps == {NOW, NOW + timedelta(days=1)}
    assert [run.computed_at for run in runs] == [NOW, NOW, NOW + timedelta(days=1)]
    assert runs[-1].moved == summary.customers_moved and runs[-1].customers == 7


def _row_versions(sessions: sessionmaker[Session]) -> dict[int, str]:
    """Per profile, a token that changes whenever its row is written (PostgreSQL's xmin; on SQLite a
    counter kept by a trigger, installed on first use), so a test sees rows written, not only values."""
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            xmin = text("SELECT customer_id, xmin::text FROM customer_profiles")
            return {i: x for i, x in session.execute(xmin)}
        writes_table = "CREATE TABLE IF NOT EXISTS profile_writes (customer_id INT PRIMARY KEY, n INT)"
        session.execute(text(writes_table))
        session.execute(text(
            "CREATE TRIGGER IF NOT EXISTS count_profile_writes AFTER UPDATE ON customer_profiles BEGIN "
            "INSERT INTO profile_writes VALUES (NEW.customer_id, 1) "
            "ON CONFLICT (customer_id) DO UPDATE SET n = n + 1; END"))
        writes = {i: n for i, n in session.execute(text("SELECT customer_id, n FROM profile_writes"))}
        ids = session.scalars(select(CustomerProfile.customer_id)).all()
    return {i: str(writes.get(i, 0)) for i in ids}


def _stored(sessions: sessionmaker[Session]) -> dict[int, dict[str, object]]:
    columns = CustomerProfile.__table__.columns.keys()
    with sessions() as session:
        profiles = session.scalars(select(CustomerProfile))
        return {p.customer_id: {c: getattr(p, c) for c in columns} for p in profiles}


def test_a_recompute_rewrites_only_the_profiles_that_changed(any_sessions: sessionmaker[Session]) -> None:
    ids = _seed(any_sessions)
    clock = FixedClock(NOW)
    recompute_profiles(any_sessions, RULES, clock)
    first = _stored(any_sessions)
    assert first[ids["prospect"]]["dropped_lines"] is None  # NULL on both databases, never 'NaN'
    untouched = _row_versions(any_sessions)
    again = recompute_profiles(any_sessions, RULES, clock)  # nothing changed: nothing written
    assert _row_versions(any_sessions) == untouched and _stored(any_sessions) == first
    assert (again.total, again.customers_moved) == (7, 0)

    with any_sessions.begin() as session:  # a stored figure and class that the orders do not give
        session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == ids["mature"])
                        .values(revenue=Decimal("1.00"), value_tier="low"))
    tampered = _row_versions(any_sessions)
    repaired = recompute_profiles(any_sessions, RULES, clock)
    after = _row_versions(any_sessions)
    assert [i for i in after if after[i] != tampered[i]] == [ids["mature"]]
    assert _stored(any_sessions) == first
    assert repaired.moved_into == {"value_tier": {"high": 1}}  # moved from the stored class, as ever

    clock.advance(timedelta(days=1))  # the clock moved: only the profiles whose figures age are written
    before = _row_versions(any_sessions)
    recompute_profiles(any_sessions, RULES, clock)
    later, after = _stored(any_sessions), _row_versions(any_sessions)
    prospect = ids["prospect"]  # whose figures do not move with the clock: not even its moment is written
    assert after[prospect] == before[prospect] and later[prospect] == first[prospect]
    aged = {i for i in after if after[i] != before[i]}
    assert aged and prospect not in aged
    assert {later[i]["computed_at"] for i in aged} == {NOW + timedelta(days=1)}
    card = customer_card(any_sessions, "prospect", RULES)
    assert set(card.explanations) >= set(DIMENSIONS)  # explained by the last run, which saw it unchanged
    assert card.classified_at == NOW + timedelta(days=1)


def test_a_dropped_product_line_is_partial_churn(any_sessions: sessionmaker[Session]) -> None:
    ids = _seed(any_sessions)
    with any_sessions.begin() as session:
        for n, (days, line) in enumerate([(300, "toner"), (250, "toner"), (30, "paper"), (5, "paper")]):
            session.add(Order(external_id=f"lines-{n}", customer_id=ids["new"], product_line=line,
                              ordered_at=NOW - timedelta(days=days), amount=Decimal("40.00")))
    recompute_profiles(any_sessions, RULES, FixedClock(NOW))
    profile = _profiles(any_sessions, ids)["new"]
    assert (profile.churn_kind, profile.dropped_lines) == ("partial", "toner")


def test_the_card_explains_every_class_and_lists_moves(any_sessions: sessionmaker[Session]) -> None:
    ids = _seed(any_sessions)
    clock = FixedClock(NOW)
    recompute_profiles(any_sessions, RULES, clock)
    clock.advance(timedelta(days=160))  # 170 days silent: over 2× the 80 days expected, not yet 180
    recompute_profiles(any_sessions, RULES, clock)
    card = customer_card(any_sessions, "new", RULES)
    assert card.customer.id == ids["new"] and card.profile is not None
    assert set(card.explanations) == {*DIMENSIONS, "rhythm", "churn_risk", "next_order", "predicted_value"}
    assert card.explanations["lifecycle_stage"].value == card.profile.lifecycle_stage == "at_risk"
    assert "no order for 170 days, 2.1× their usual 80 days" in card.explanations["lifecycle_stage"].reason
    assert card.explanations["rhythm"].value == "every 80 days"
    assert card.explanations["next_order"].value == "90 days overdue"
    assert [(m.dimension, m.old, m.new) for m in card.transitions if m.dimension == "lifecycle_stage"] == [
        ("lifecycle_stage", "new", "at_risk"), ("lifecycle_stage", None, "new")
    ]
    assert customer_card(any_sessions, str(ids["new"]), RULES).customer.external_id == "new"


def test_an_empty_store_gives_an_empty_summary(any_sessions: sessionmaker[Session]) -> None:
    summary = recompute_profiles(any_sessions, RULES, FixedClock(NOW))
    assert (summary.total, summary.customers_moved) == (0, 0)
    assert (summary.models.churn, summary.models.spend) == (None, None)
    assert summary.models.peer_intervals == {industry: RULES.rhythm.default_interval_days
                                             for industry in INDUSTRIES}
    assert all(set(counts.values()) == {0} for counts in summary.counts.values())
    with any_sessions() as session:
        assert session.scalar(select(func.count()).select_from(ClassificationRun)) == 1


def test_a_run_recomputes_profiles_only_once_they_are_older_than_the_max_age(
    any_sessions: sessionmaker[Session],
) -> None:
    from edm.runner import refresh_profiles

    ids = _seed(any_sessions)
    rules = RULES.model_copy(update={"max_age_hours": 24.0})
    clock = FixedClock(NOW)
    first = refresh_profiles(any_sessions, rules, clock)  # never classified: due
    assert first is not None and first.first_profiles == len(HISTORY)
    clock.advance(timedelta(hours=23, minutes=59))
    assert refresh_profiles(any_sessions, rules, clock) is None
    clock.advance(timedelta(minutes=1))
    again = refresh_profiles(any_sessions, rules, clock)
    assert again is not None and again.computed_at == NOW + timedelta(hours=24)
    assert _profiles(any_sessions, ids)["new"].computed_at == NOW + timedelta(hours=24)


def test_a_detractor_cannot_be_loyal(any_sessions: sessionmaker[Session]) -> None:
    ids = _seed(any_sessions)
    clock = FixedClock(NOW)
    recompute_profiles(any_sessions, RULES, clock)
    loyal = [name for name, p in _profiles(any_sessions, ids).items() if p.loyalty == "loyal"]
    assert loyal, "the history has a loyal customer"

    def answered(satisfaction: str | None) -> dict[str, CustomerProfile]:
        with any_sessions.begin() as session:
            session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == ids[loyal[0]])
                            .values(satisfaction=satisfaction))
        clock.advance(timedelta(hours=1))
        recompute_profiles(any_sessions, RULES, clock)
        return _profiles(any_sessions, ids)

    profiles = answered("detractor")
    assert profiles[loyal[0]].loyalty == "fairly_loyal"
    with any_sessions.begin() as session:
        session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == ids[loyal[0]])
                        .values(nps_score=4, satisfaction_trend="declining", surveyed_at=NOW))
    header, classes, *_ = card_tables(customer_card(any_sessions, loyal[0], RULES))
    assert "satisfaction detractor (NPS 4, declining), last answered 2026-03-01" in render(header)
    assert isinstance(classes, Table)
    rows = dict(zip(classes.columns[0].cells, classes.columns[2].cells, strict=True))
    assert str(rows["loyalty"]).endswith("; but a detractor (latest survey answer) is at most fairly_loyal")
    assert profiles[loyal[0]].satisfaction == "detractor"  # classification keeps what the surveys said
    assert (ids[loyal[0]], "loyalty", "loyal", "fairly_loyal") in _transitions(any_sessions)
    assert all(profiles[name].loyalty == "loyal" for name in loyal[1:])
    assert answered("promoter")[loyal[0]].loyalty == "loyal"


def test_a_reacquired_customer_moving_on_is_a_recorded_transition(
    any_sessions: sessionmaker[Session],
) -> None:
    """Back after a lapse: reacquired; the third order day since the return makes them growing, and that
    move is stored like any other, so campaigns and the lifecycle report see it."""
    ids = _seed(any_sessions)
    clock = FixedClock(NOW)
    recompute_profiles(any_sessions, RULES, clock)
    assert _profiles(any_sessions, ids)["reacquired"].lifecycle_stage == "reacquired"
    with any_sessions.begin() as session:  # back 10 days ago (one order day): two more make three
        for days in (10, 20):
            session.add(Order(external_id=f"reacquired-{days}", customer_id=ids["reacquired"],
                              ordered_at=NOW + timedelta(days=days), amount=Decimal("900.00")))
    clock.advance(timedelta(days=21))
    recompute_profiles(any_sessions, RULES, clock)
    profile = _profiles(any_sessions, ids)["reacquired"]
    assert (profile.lifecycle_stage, profile.orders_since_return) == ("growing", 3)
    assert (ids["reacquired"], "lifecycle_stage", "reacquired", "growing") in _transitions(any_sessions)
