"""A/B winners: the test share gets the variants, the rest waits, then gets the winner (or the default).

End to end with a fake clock against a real SMTP server (aiosmtpd) through `runner.run_campaigns`,
the path `edm campaign run` and the daemon take; the statistics as properties of pure functions.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.schema import Campaign
from edm.campaigns.variants import assign
from edm.campaigns.winner import AWAITING_WINNER, Arm, decide_winner, holm, in_test_share, two_proportion_p
from edm.cli import format_run
from edm.clock import FixedClock
from edm.config import ClassificationSettings, Settings, SmtpSettings
from edm.reports import engagement_report, render_html
from edm.runner import RunReport, run_campaigns
from edm.store import AbDecision, ClassificationRun, Customer, CustomerProfile, Event, Order, OutboxMessage
from edm.suppression import suppress
from tests.conftest import SECRET_KEY, SmtpServer

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
CUSTOMERS = 500
CAMPAIGN = """name: spring_sale
template: win_back
subject: {{en: "Subject A"}}
params: {{discount: "15%", offer_code: "SPRING"}}
links: {{offer: "https://www.example.com/offer"}}
variants:
  - {{name: a}}
  - {{name: b, subject: {{en: "Subject B"}}}}
pick_winner: {{metric: {metric}, after_hours: 24, test_share: 0.2, confidence: 0.95}}
"""


def _store(
    tmp_path: Path, sessions: sessionmaker[Session], smtp: SmtpServer, metric: str = "click_rate"
) -> Settings:
    """500 classified customers and the campaign; classification is kept (no recompute in the test)."""
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "spring_sale.yaml").write_text(CAMPAIGN.format(metric=metric), encoding="utf-8")
    with sessions.begin() as session:
        for n in range(CUSTOMERS):
            customer = Customer(external_id=f"c{n}", name=f"C{n}", email=f"c{n}@example.com", kind="person",
                                locale="en", timezone="UTC", created_at=NOW)
            session.add(customer)
            session.flush()
            session.add(CustomerProfile(customer_id=customer.id, value_tier="low", lifecycle_stage="active",
                                        order_count=1, revenue=Decimal("10"), computed_at=NOW))
        session.add(ClassificationRun(computed_at=NOW, customers=CUSTOMERS, moved=0, thresholds={}))
    return Settings(campaigns_dir=folder, secret_keys=(SecretStr(SECRET_KEY),),
                    smtp=SmtpSettings(host=smtp.host, port=smtp.port),
                    classification=ClassificationSettings(max_age_hours=10_000))


def _run(settings: Settings, sessions: sessionmaker[Session], at: datetime) -> RunReport:
    return asyncio.run(run_campaigns(settings, sessions, FixedClock(at), ["spring_sale"]))


def _received(smtp: SmtpServer) -> dict[str, list[str]]:
    received: dict[str, list[str]] = {}
    for message in smtp.handler.messages:
        received.setdefault(message["To"].addresses[0].addr_spec, []).append(str(message["Subject"]))
    return received


def _rows(sessions: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    """(address, state, variant) of every outbox row."""
    with sessions() as session:
        query = select(OutboxMessage.to_address, OutboxMessage.state, OutboxMessage.variant)
        return [(row.to_address, row.state, row.variant) for row in session.execute(query)]


def _click(sessions: sessionmaker[Session], variant: str, share: float, *, machine: bool = False) -> int:
    """Clicks on the first `share` of a variant's delivered test messages; how many clicked."""
    with sessions.begin() as session:
        rows = session.execute(select(OutboxMessage.id, OutboxMessage.customer_id).where(
            OutboxMessage.variant == variant, OutboxMessage.state == "sent").order_by(OutboxMessage.id)).all()
        chosen = rows[: round(len(rows) * share)]
        for outbox_id, customer_id in chosen:
            session.add(Event(kind="click", customer_id=customer_id, outbox_id=outbox_id, machine=machine,
                              occurred_at=NOW + timedelta(hours=2), url="https://www.example.com/offer"))
    return len(chosen)


def _day0(settings: Settings, sessions: sessionmaker[Session], smtp: SmtpServer) -> tuple[set[str], set[str]]:
    """Day 0: only the test share is mailed, each their own variant; the rest waits. (testers, rest)"""
    report = _run(settings, sessions, NOW)
    rows = _rows(sessions)
    testers = {address for address, state, _ in rows if state == "sent"}
    rest = {address for address, state, _ in rows if state == AWAITING_WINNER}
    assert len(testers | rest) == CUSTOMERS and not testers & rest
    assert 0.14 < len(testers) / CUSTOMERS < 0.26  # test_share 0.2
    assert all(variant is None for _, state, variant in rows if state == AWAITING_WINNER)
    assert report.plans[0].awaiting_winner == len(rest)
    received = _received(smtp)
    assert received.keys() == testers
    subjects = {"a": "Subject A", "b": "Subject B"}
    for address, state, variant in rows:
        if state == "sent":
            assert variant is not None
            assert received[address] == [subjects[variant]]
    return testers, rest


def test_the_winner_is_picked_after_the_window_and_sent_to_the_rest(
    tmp_path: Path, any_sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    sessions = any_sessions
    settings = _store(tmp_path, sessions, smtp_server)
    testers, rest = _day0(settings, sessions, smtp_server)
    _click(sessions, "a", 0.05)
    _click(sessions, "b", 0.40)
    _click(sessions, "a", 1.0, machine=True)  # scanners' clicks never count
    quitter = min(rest)  # unsubscribes while the test runs
    with sessions.begin() as session:
        suppress(session, [quitter.upper()], "unsubscribed", NOW + timedelta(hours=3))  # any spelling

    early = _run(settings, sessions, NOW + timedelta(hours=12))  # the window is not over: nothing moves
    assert early.winners == [] and len(smtp_server.handler.messages) == len(testers)

    decided = _run(settings, sessions, NOW + timedelta(hours=25))
    [result] = decided.winners
    assert result.verdict.winner == "b" and result.verdict.significant
    assert result.verdict.p_value < 0.05 and result.released == len(rest)
    assert format_run(decided)[0].startswith("spring_sale 2026-11-24: A/B test by click_rate: b wins (p = ")
    received = _received(smtp_server)
    assert all(len(subjects) == 1 for subjects in received.values())  # nobody receives twice
    assert quitter not in received  # suppression at send time holds
    for address in rest - {quitter}:
        assert received[address] == ["Subject B"]
    assert len(received) == CUSTOMERS - 1

    again = _run(settings, sessions, NOW + timedelta(hours=49))  # decided once, nothing sent again
    assert again.winners == [] and len(smtp_server.handler.messages) == CUSTOMERS - 1
    with sessions() as session:
        [stored] = session.scalars(select(AbDecision)).all()
    assert (stored.winner, stored.significant, stored.metric, stored.released) == ("b", True, "click_rate",
                                                                                  len(rest))

    report = engagement_report(sessions, [["campaign"]], now=NOW + timedelta(hours=50))
    tables = {table.name: table.frame for table in report.tables()}
    [decision] = tables["ab-decisions"].to_dict("records")
    assert decision["winner"] == "b" and decision["decision"].startswith("b wins (p = ")
    assert decision["test"] == "z-test" and decision["p_value"] < 0.05
    arms = {row["variant"]: row for row in tables["ab-arms"].to_dict("records")}
    assert arms["b"]["conversion_rate"] > 0.35 and arms["a"]["conversion_rate"] < 0.1  # machine clicks out
    assert arms["a"]["sent"] + arms["b"]["sent"] == len(testers)
    assert arms["b"]["outcome"].startswith("winner")
    assert "b wins" in render_html(report)


def test_no_winner_when_the_difference_is_not_significant_the_default_goes_to_the_rest(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = _store(tmp_path, sessions, smtp_server)
    _, rest = _day0(settings, sessions, smtp_server)
    _click(sessions, "a", 0.20)
    _click(sessions, "b", 0.25)  # b leads, but not significantly on ~50 messages each

    [result] = _run(settings, sessions, NOW + timedelta(hours=25)).winners
    assert result.verdict.leader == "b" and not result.verdict.significant and result.verdict.winner == "a"
    received = _received(smtp_server)
    assert len(received) == CUSTOMERS and all(len(subjects) == 1 for subjects in received.values())
    assert {received[address][0] for address in rest} == {"Subject A"}

    report = engagement_report(sessions, [["campaign"]], now=NOW + timedelta(hours=26))
    [decision] = next(t.frame for t in report.tables() if t.name == "ab-decisions").to_dict("records")
    assert decision["decision"].startswith("no significant difference; default a")
    assert decision["significant"].startswith("no")


def test_order_rate_counts_orders_after_the_mail(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = _store(tmp_path, sessions, smtp_server, metric="order_rate")
    _day0(settings, sessions, smtp_server)
    with sessions.begin() as session:
        rows = session.execute(select(OutboxMessage.customer_id, OutboxMessage.variant).where(
            OutboxMessage.state == "sent")).all()
        for customer_id, variant in rows:  # every a-tester ordered, but before the mail: no conversion
            moment = NOW - timedelta(days=1) if variant == "a" else NOW + timedelta(hours=5)
            session.add(Order(external_id=f"o{customer_id}", customer_id=customer_id, ordered_at=moment,
                              amount=Decimal("20")))
    [result] = _run(settings, sessions, NOW + timedelta(hours=25)).winners
    arms = {arm.name: arm for arm in result.verdict.arms}
    assert arms["a"].converted == 0 and arms["b"].converted == arms["b"].sent > 0
    assert result.verdict.winner == "b" and result.verdict.significant


# --- the schema --------------------------------------------------------------------------------------

BASE = {"name": "x", "template": "win_back", "subject": {"en": "S"}}


@pytest.mark.parametrize(("extra", "message"), [
    ({"variants": [{"name": "a"}], "pick_winner": {}}, "at least two variants"),
    ({"variants": [{"name": "a"}, {"name": "b"}], "pick_winner": {"default": "c"}}, "'c' is not a variant"),
    ({"variants": [{"name": "a"}, {"name": "b"}], "pick_winner": {}, "life_event": {"name": "birthday"}},
     "whole audience at once"),
    ({"variants": [{"name": "a"}, {"name": "b"}], "pick_winner": {"metric": "open_rate"}}, "click_rate"),
    ({"variants": [{"name": "a"}, {"name": "b"}], "pick_winner": {"test_share": 1}}, "less than 1"),
])
def test_pick_winner_is_checked(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Campaign.model_validate({**BASE, **extra})


def test_the_default_is_the_first_variant_unless_named() -> None:
    variants = [{"name": "a"}, {"name": "b"}]
    assert Campaign.model_validate({**BASE, "variants": variants, "pick_winner": {}}).default_variant == "a"
    named = Campaign.model_validate({**BASE, "variants": variants, "pick_winner": {"default": "b"}})
    assert named.default_variant == "b"


# --- the statistics ----------------------------------------------------------------------------------

arms = st.builds(lambda sent, share: (sent, min(sent, share)), st.integers(0, 2000), st.integers(0, 2000))


@settings(derandomize=True, max_examples=300)
@given(arms, arms)
def test_the_p_value_is_a_probability_and_symmetric(first: tuple[int, int], second: tuple[int, int]) -> None:
    a, b = Arm("a", *first), Arm("b", *second)
    test, p = two_proportion_p(a, b)
    assert 0.0 <= p <= 1.0
    swapped_test, swapped_p = two_proportion_p(b, a)
    assert swapped_test == test and swapped_p == pytest.approx(p)


@settings(derandomize=True, max_examples=200)
@given(st.lists(arms, min_size=2, max_size=5), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_a_winner_is_the_best_arm_and_only_when_significant(
    found: list[tuple[int, int]], confidence: float
) -> None:
    named = [Arm(f"v{i}", *figures) for i, figures in enumerate(found)]
    verdict = decide_winner(named, confidence=confidence, default="v1")
    assert 0.0 <= verdict.p_value <= 1.0
    assert verdict.significant == (verdict.p_value < 1 - confidence)
    best = max(arm.rate for arm in named)
    assert next(arm for arm in named if arm.name == verdict.leader).rate == best
    assert verdict.winner == (verdict.leader if verdict.significant else "v1")
    if verdict.significant:  # a tie at the top is never significant
        assert sum(arm.rate == best for arm in named) == 1


@settings(derandomize=True, max_examples=200)
@given(arms)
def test_identical_arms_are_never_significant(figures: tuple[int, int]) -> None:
    verdict = decide_winner([Arm("a", *figures), Arm("b", *figures)], confidence=0.5, default="a")
    assert verdict.p_value == pytest.approx(1.0) and verdict.winner == "a"


@settings(derandomize=True, max_examples=200)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_holm_adjusts_upward_and_keeps_the_order(p_values: list[float]) -> None:
    adjusted = holm(p_values)
    assert all(raw <= adj <= 1.0 for raw, adj in zip(p_values, adjusted, strict=True))
    ranked = sorted(range(len(p_values)), key=lambda i: p_values[i])
    assert [adjusted[i] for i in ranked] == sorted(adjusted)


def test_known_values_and_the_test_used() -> None:
    # 40/100 vs 20/100: z = 3.086, two-sided p = 0.00203
    test, p = two_proportion_p(Arm("a", 100, 40), Arm("b", 100, 20))
    assert test == "z-test" and p == pytest.approx(0.00203, abs=1e-4)
    # small counts: Fisher's exact test (the tea-tasting table, p = 0.4857)
    test, p = two_proportion_p(Arm("a", 4, 3), Arm("b", 4, 1))
    assert test == "Fisher exact" and p == pytest.approx(0.4857, abs=1e-4)


@settings(derandomize=True, max_examples=100)
@given(st.text(min_size=1, max_size=20), st.integers(1, 10**9), st.floats(0.01, 0.99))
def test_the_split_is_deterministic(campaign: str, customer: int, share: float) -> None:
    assert in_test_share(campaign, customer, share) == in_test_share(campaign, customer, share)


def test_the_split_takes_its_share_of_every_arm() -> None:
    """Independent of the arm: each variant gets the test share of its customers."""
    weights = [("a", 1.0), ("b", 1.0)]
    testers = [c for c in range(20_000) if in_test_share("spring", c, 0.2)]
    tested = Counter(assign("spring", c, weights, 0.0) for c in testers)
    everyone = Counter(assign("spring", c, weights, 0.0) for c in range(20_000))
    for arm in ("a", "b"):
        assert abs(tested[arm] / everyone[arm] - 0.2) < 0.02
