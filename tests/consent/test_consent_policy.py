"""The consent policy: which basis a mailbox has now, and which campaign kinds may use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given

from edm.campaigns.decisions import Facts, Reason, Rules, decide, decide_follow_up
from edm.campaigns.timing import Timing
from edm.config import ConsentSettings, Settings, load_settings
from edm.consent.policy import ConsentFacts, add_months, basis, hold_reason, months_between, standing
from edm.consent.record import BASES, STATUSES
from edm.errors import ConfigError

NOW = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
DEFAULTS = ConsentSettings()
moments = st.integers(-60 * 31, 60).map(lambda days: NOW + timedelta(days=days, hours=days % 7))
consents = st.builds(
    ConsentFacts,
    basis=st.none() | st.sampled_from(BASES),
    status=st.none() | st.sampled_from(STATUSES),
    recorded_at=st.none() | moments,
    source=st.none() | st.sampled_from(["import:customers.csv", "api", "signup", "erased", "preferences"]),
    customer_since=st.none() | moments,
    last_order_at=st.none() | moments,
)
months = st.integers(1, 60)


def _lawful_for_marketing(facts: ConsentFacts, window: int) -> bool:
    """The rule itself, said plainly: explicit granted consent, or an existing customer within the window."""
    if facts.basis == "explicit":
        return facts.status == "granted"
    if facts.basis is None or (facts.basis == "existing_customer" and facts.status == "granted"):
        first = facts.customer_since if facts.basis is None else facts.recorded_at
        dates = [d for d in (first, facts.last_order_at) if d is not None]
        return bool(dates) and add_months(max(dates), window) > NOW
    return False


@given(consents, months)
def test_marketing_is_never_allowed_without_explicit_consent_or_a_recent_customer(
    facts: ConsentFacts, window: int
) -> None:
    settings = ConsentSettings(soft_opt_in_months=window)
    for kind in ("marketing", "greeting", "survey"):
        allowed = hold_reason(facts, kind, NOW, settings) is None
        assert allowed == _lawful_for_marketing(facts, window)


@given(consents, months)
def test_the_wordless_basis_is_the_standing_one(facts: ConsentFacts, window: int) -> None:
    settings = ConsentSettings(soft_opt_in_months=window)
    assert basis(facts, NOW, settings) == standing(facts, NOW, settings).basis
    beijing = timezone(timedelta(hours=8))  # a date read in another zone: its months are not UTC's
    there = facts if facts.last_order_at is None else ConsentFacts(
        last_order_at=facts.last_order_at.astimezone(beijing))
    assert basis(there, NOW, settings) == standing(there, NOW, settings).basis


def test_the_soft_opt_in_ends_to_the_minute_at_a_month_end() -> None:
    settings = ConsentSettings(soft_opt_in_months=1)

    def at(last_order: datetime, now: datetime) -> str:
        return basis(ConsentFacts(last_order_at=last_order), now, settings)

    ordered = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)  # + 1 month: 28 February, 10:00
    assert at(ordered, datetime(2026, 2, 28, 9, 59, tzinfo=UTC)) == "existing_customer"
    assert at(ordered, datetime(2026, 2, 28, 10, 0, tzinfo=UTC)) == "none"
    late = datetime(2026, 2, 1, 2, 0, tzinfo=timezone(timedelta(hours=8)))  # 31 January 18:00 UTC
    assert at(late, datetime(2026, 2, 28, 20, 0, tzinfo=UTC)) == "none"  # its month ended 28 Feb 18:00 UTC


@given(consents, months)
def test_service_mail_is_always_allowed_by_consent(facts: ConsentFacts, window: int) -> None:
    assert hold_reason(facts, "service", NOW, ConsentSettings(soft_opt_in_months=window)) is None


@given(consents, months, st.booleans(), st.sampled_from(["marketing", "greeting", "survey", "service"]))
def test_the_planner_decision_sends_marketing_only_on_a_lawful_basis(
    facts: ConsentFacts, window: int, suppressed: bool, kind: str
) -> None:
    settings = ConsentSettings(soft_opt_in_months=window)
    rules = Rules("news", kind != "service", False, False, False, False, (), 0.0, None, kind=kind,
                  consent=settings)
    member = Facts(customer_id=7, timezone="UTC", interval_days=1.0, consent=facts,
                   suppression="unsubscribed" if suppressed else None)
    decision = decide(member, rules, Timing(NOW))
    if kind != "service" and not _lawful_for_marketing(facts, window):
        assert not decision.send
        if not suppressed:
            assert decision.reason == Reason.NO_CONSENT
            assert decision.detail.startswith(f"no consent for {kind}: ")
    if suppressed:
        assert decision.reason == Reason.SUPPRESSED  # the suppression list still stops every kind
    elif kind == "service":
        assert decision.send


def test_the_reason_says_how_long_ago_and_the_window() -> None:
    facts = ConsentFacts(customer_since=datetime(2020, 1, 5, tzinfo=UTC),
                         last_order_at=datetime(2024, 5, 2, tzinfo=UTC))
    assert hold_reason(facts, "marketing", NOW, DEFAULTS) == (
        "no consent for marketing: existing customer, last order 2024-05-02 "
        "(31 months ago; soft opt-in 24 months)")
    assert hold_reason(facts, "marketing", NOW, ConsentSettings(soft_opt_in_months=36)) is None
    recent = ConsentFacts(customer_since=datetime(2026, 1, 1, tzinfo=UTC))
    assert standing(recent, NOW, DEFAULTS).basis == "existing_customer"
    assert "customer since 2026-01-01 (11 months ago" in standing(recent, NOW, DEFAULTS).why
    a_month = ConsentFacts(customer_since=datetime(2026, 11, 1, tzinfo=UTC))
    assert "customer since 2026-11-01 (1 month ago; soft opt-in 1 month)" in standing(
        a_month, NOW, ConsentSettings(soft_opt_in_months=1)).why  # issue 25: "1 month", not "1 months"


@pytest.mark.parametrize(("facts", "reason"), [
    (ConsentFacts("explicit", "withdrawn", datetime(2026, 3, 1, tzinfo=UTC), "preferences"),
     "no consent for greeting: consent withdrawn 2026-03-01 (preferences)"),
    (ConsentFacts("explicit", "pending", datetime(2026, 12, 1, tzinfo=UTC), "signup"),
     "no consent for greeting: consent pending (not confirmed) since 2026-12-01 (signup)"),
    (ConsentFacts("none", "withdrawn", datetime(2026, 6, 1, tzinfo=UTC), "erased"),
     "no consent for greeting: erased 2026-06-01 and imported again without new consent"),
    (ConsentFacts("none", "granted", datetime(2026, 6, 1, tzinfo=UTC), "api"),
     "no consent for greeting: no lawful basis recorded (api)"),
])
def test_each_missing_basis_is_said_in_words(facts: ConsentFacts, reason: str) -> None:
    assert hold_reason(facts, "greeting", NOW, DEFAULTS) == reason
    assert hold_reason(facts, "service", NOW, DEFAULTS) is None


def test_an_explicit_consent_never_runs_out() -> None:
    old = ConsentFacts("explicit", "granted", datetime(2010, 1, 1, tzinfo=UTC), "import:old.csv")
    assert hold_reason(old, "marketing", NOW, DEFAULTS) is None
    assert standing(old, NOW, DEFAULTS).why == "explicit consent 2010-01-01 (import:old.csv)"


def test_a_follow_up_step_is_held_without_consent_and_suppression_comes_first() -> None:
    assert decide_follow_up(3, None, [], "no consent for marketing: x").reason == Reason.NO_CONSENT
    assert decide_follow_up(3, "unsubscribed", [], "no consent for marketing: x").reason == Reason.SUPPRESSED
    assert decide_follow_up(3, None, []).reason == Reason.FOLLOW_UP


@pytest.mark.parametrize(("start", "end", "expected"), [
    ((2024, 1, 31), (2024, 2, 28), 0), ((2024, 1, 31), (2024, 2, 29), 1),
    ((2024, 5, 2), (2026, 12, 7), 31),
    ((2024, 12, 7), (2026, 12, 7), 24), ((2024, 12, 8), (2026, 12, 7), 23),
])
def test_months_are_calendar_months(start: tuple[int, int, int], end: tuple[int, int, int],
                                    expected: int) -> None:
    assert months_between(datetime(*start, tzinfo=UTC), datetime(*end, tzinfo=UTC)) == expected
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)


def test_the_settings_default_as_agreed_and_refuse_what_is_not_a_kind_or_a_basis() -> None:
    assert DEFAULTS.soft_opt_in_months == 24
    assert DEFAULTS.allowed("marketing") == ("explicit", "existing_customer")
    assert DEFAULTS.allowed("service") == ("explicit", "existing_customer", "none")
    stricter = ConsentSettings.model_validate({"kinds": {"marketing": ["explicit"]}})
    assert stricter.allowed("marketing") == ("explicit",)
    assert stricter.allowed("greeting") == DEFAULTS.allowed("greeting")  # a kind left out keeps its default
    for wrong, words in [({"kinds": {"promo": ["explicit"]}}, "'promo' is not a campaign kind"),
                         ({"kinds": {"marketing": ["opt_in"]}}, "'opt_in' is not a consent basis"),
                         ({"kinds": {"marketing": []}}, "give at least one basis"),
                         ({"kinds": {"marketing": "explicit"}}, "give a list of bases"),
                         ({"soft_opt_in_months": 0}, "greater than or equal to 1")]:
        with pytest.raises(ValueError, match=words):
            ConsentSettings.model_validate(wrong)


def test_a_bad_consent_section_in_edm_yaml_names_the_key(tmp_path: Path) -> None:
    folder = tmp_path
    wrong = "consent:\n  kinds:\n    marketing: [explicit, maybe]\n"
    (folder / "edm.yaml").write_text(wrong, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"consent.*'maybe' is not a consent basis"):
        load_settings(folder / "edm.yaml")
    (folder / "edm.yaml").write_text("consent:\n  soft_opt_in_months: 12\n", encoding="utf-8")
    assert load_settings(folder / "edm.yaml").consent.soft_opt_in_months == 12
    assert Settings().consent == DEFAULTS
