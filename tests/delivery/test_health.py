"""The pure policies: when a window's figures pause sending, and the warm-up's daily caps and providers."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from edm.config import DeliverabilitySettings
from edm.delivery.health import WindowStats, estimate, pause_reason, percent, spread, total
from edm.delivery.warmup import MAX_CAP, OTHER, PROVIDERS, daily_cap, provider_domains, provider_of

DEFAULTS = DeliverabilitySettings()
FIRST = date(2026, 12, 1)


def test_the_reason_names_the_rate_the_sample_and_the_limit() -> None:
    assert pause_reason(WindowStats(1000, 62, 0), DEFAULTS) == \
        "hard bounces 6.2% of the last 1000 deliveries (limit 5%)"
    assert pause_reason(WindowStats(1000, 10, 3), DEFAULTS) == \
        "complaints 0.3% of the last 1000 deliveries (limit 0.1%)"
    assert pause_reason(WindowStats(1000, 50, 1), DEFAULTS) is None  # at the limits is not over them
    assert pause_reason(WindowStats(3, 1, 0), DEFAULTS) is None  # one bounce in three sends: no signal


@settings(derandomize=True, max_examples=300)
@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 5000),
       st.floats(0.001, 1), st.floats(0.0001, 1), st.integers(1, 2000))
def test_sending_pauses_exactly_when_a_rate_is_over_its_limit_on_enough_deliveries(
    deliveries: int, bounces: int, complaints: int, max_bounce: float, max_complaint: float, least: int
) -> None:
    bounces, complaints = min(bounces, deliveries), min(complaints, deliveries)
    rules = DeliverabilitySettings(max_bounce_rate=max_bounce, max_complaint_rate=max_complaint,
                                   min_deliveries=least)
    reason = pause_reason(WindowStats(deliveries, bounces, complaints), rules)
    over = deliveries >= least and deliveries > 0 and (
        bounces / deliveries > max_bounce or complaints / deliveries > max_complaint)
    assert (reason is not None) == over
    if reason is not None:
        assert f"of the last {deliveries} deliveries" in reason and "\n" not in reason
        # more bounces never lift a pause
        assert pause_reason(WindowStats(deliveries, min(deliveries, bounces + 1), complaints), rules)


@settings(derandomize=True, max_examples=200)
@given(st.dictionaries(st.text("abc", min_size=1, max_size=3),
                       st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 100)), max_size=5))
def test_bulk_mail_is_judged_without_its_worst_campaign(figures: dict[str, tuple[int, int, int]]) -> None:
    by_campaign = {name: WindowStats(d, min(b, d), min(c, d)) for name, (d, b, c) in figures.items()}
    whole, rest = total(by_campaign.values()), spread(by_campaign)
    assert rest.deliveries <= whole.deliveries and rest.bounces <= whole.bounces
    if len(by_campaign) <= 1:
        assert rest == WindowStats(0, 0, 0)  # one campaign: its own pause judges it
    else:
        worst = max(s.bounces + s.complaints for s in by_campaign.values())
        assert whole.bounces + whole.complaints - (rest.bounces + rest.complaints) == worst


def test_percent_is_short() -> None:
    assert [percent(r) for r in (0.062, 0.05, 0.001, 0.0625)] == ["6.2%", "5%", "0.1%", "6.25%"]


@settings(derandomize=True, max_examples=300)
@given(st.integers(1, 100_000), st.floats(1, 3), st.integers(-30, 400))
def test_the_daily_cap_starts_at_start_and_never_shrinks(start: int, growth: float, day: int) -> None:
    today = FIRST + timedelta(days=day)
    cap = daily_cap(FIRST, today, start, growth)
    assert start <= cap <= MAX_CAP or (start > MAX_CAP and cap == MAX_CAP)
    assert daily_cap(FIRST, today + timedelta(days=1), start, growth) >= cap
    if day <= 0:
        assert cap == start
    elif cap < MAX_CAP:
        assert cap <= start * growth**day < cap + 1 + 1e-9 * cap


def test_providers_group_their_domains_and_the_rest_is_other() -> None:
    assert provider_of("GMail.com") == provider_of("googlemail.com") == "gmail"
    assert {provider_of(d) for d in ("outlook.com", "hotmail.com", "live.com", "msn.com")} == {"microsoft"}
    assert {provider_of(d) for d in ("yahoo.com", "ymail.com", "aol.com")} == {"yahoo"}
    assert provider_of("foxmail.com") == provider_of("qq.com") == "qq"
    assert {provider_of(d) for d in ("163.com", "126.com", "yeah.net")} == {"netease"}
    assert provider_of("example.com") == OTHER
    custom = provider_domains({"acme": ("Acme.example",), "gmail": ("gmail.com",)})
    assert provider_of("acme.example", custom) == "acme"
    assert provider_of("googlemail.com", custom) == OTHER  # a provider's domains replaced
    assert set(PROVIDERS) < set(custom)


_stats = st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500)).map(
    lambda t: WindowStats(t[0], min(t[1], t[0]), min(t[2], t[0])))


@settings(derandomize=True, max_examples=200)
@given(st.dictionaries(st.sampled_from("abc"), _stats, max_size=3),
       st.dictionaries(st.sampled_from("abc"), _stats, max_size=3), st.integers(1, 2000))
def test_a_runs_estimate_adds_what_it_answered_and_keeps_to_the_window(
    base: dict[str, WindowStats], fresh: dict[str, WindowStats], window: int
) -> None:
    guess = total(estimate(base, fresh, window).values())
    old, new = total(base.values()), total(fresh.values())
    if old.deliveries + new.deliveries <= window:
        assert guess == WindowStats(old.deliveries + new.deliveries, old.bounces + new.bounces,
                                    old.complaints + new.complaints)
    if new.deliveries >= window:
        assert guess == new  # the newest deliveries fill the window: the old reading is gone
    assert new.deliveries <= guess.deliveries <= max(window, new.deliveries) + len(base)
