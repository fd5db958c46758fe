"""The BG/NBD churn model against the published CDNOW results, and its own invariants."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from edm.customers.churn_model import (
    BgNbdParams,
    fit_bgnbd,
    log_likelihood,
    probability_alive,
    rfm_from_transactions,
)

# lifetimes ships the CDNOW sample: find_spec locates it without importing the package
# (test_models_against_lifetimes.py imports it, to compare its models with ours).
_SPEC = importlib.util.find_spec("lifetimes")
assert _SPEC is not None and _SPEC.submodule_search_locations is not None
DATASETS = Path(_SPEC.submodule_search_locations[0]) / "datasets"

# Fader, Hardie & Lee (2005), CDNOW sample of 2357 customers, 39-week calibration, in weeks.
PUBLISHED = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_LOG_LIKELIHOOD = -9582.4
RELATIVE_TOLERANCE = 5e-3  # reached: r 1.7e-3 (0.2426 is published rounded up), alpha, a, b ~1.5e-4
CALIBRATION_END = "1997-09-30"


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    return pd.read_csv(DATASETS / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    # customer id, customer id renumbered 1..2357 (the summary's ID), date, CDs, dollars
    frame = pd.read_csv(DATASETS / "CDNOW_sample.txt", sep=r"\s+", header=None,
                        names=["master_id", "customer_id", "date", "cds", "dollars"], dtype={"date": str})
    frame["time"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


def _assert_matches_published(fitted: BgNbdParams) -> None:
    for name, published in PUBLISHED.as_dict().items():
        value = fitted.as_dict()[name]
        assert f"{value:.2g}" == f"{published:.2g}", (name, value, published)
        assert value == pytest.approx(published, rel=RELATIVE_TOLERANCE), name


def test_fit_on_cdnow_summary_reproduces_published_estimates(cdnow_summary: pd.DataFrame) -> None:
    x, t_x, T = (cdnow_summary[c] for c in ("frequency", "recency", "T"))
    fitted = fit_bgnbd(x, t_x, T)
    _assert_matches_published(fitted)
    assert log_likelihood(fitted, x, t_x, T) == pytest.approx(PUBLISHED_LOG_LIKELIHOOD, abs=0.05)


def test_rfm_from_cdnow_transactions_reproduces_summary_file(
    cdnow_transactions: pd.DataFrame, cdnow_summary: pd.DataFrame
) -> None:
    rfm = rfm_from_transactions(cdnow_transactions["customer_id"], cdnow_transactions["time"],
                                CALIBRATION_END, unit_days=7)
    assert len(cdnow_transactions["time"]) > (cdnow_transactions["time"] <= CALIBRATION_END).sum()
    both = rfm.merge(cdnow_summary, left_on="customer_id", right_on="ID", suffixes=("", "_published"),
                     validate="one_to_one")
    assert len(rfm) == len(both) == len(cdnow_summary) == 2357
    assert (both["frequency"] == both["frequency_published"]).all()
    assert np.abs(both["recency"] - both["recency_published"]).max() < 0.01
    assert np.abs(both["T"] - both["T_published"]).max() < 0.01
    _assert_matches_published(fit_bgnbd(rfm["frequency"], rfm["recency"], rfm["T"]))


def test_fit_in_days_scales_only_alpha(cdnow_transactions: pd.DataFrame) -> None:
    """alpha carries the time unit (r / alpha is a purchase rate); r, a, b are unit-free."""
    rfm = rfm_from_transactions(cdnow_transactions["customer_id"], cdnow_transactions["time"],
                                CALIBRATION_END, unit_days=1)
    in_days = fit_bgnbd(rfm["frequency"], rfm["recency"], rfm["T"])
    assert in_days.alpha == pytest.approx(PUBLISHED.alpha * 7, rel=RELATIVE_TOLERANCE)
    for name in ("r", "a", "b"):
        assert getattr(in_days, name) == pytest.approx(getattr(PUBLISHED, name), rel=RELATIVE_TOLERANCE)


def _simulate(params: BgNbdParams, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) drawn from the BG/NBD process itself, vectorised.

    Purchases while alive form a Poisson process (rate λ); the customer drops out after a
    repeat purchase with chance p, so makes at most K ~ Geometric(p) >= 1 of them. With
    M ~ Poisson(λT) arrivals in [0, T], x = min(K, M), and the x-th of M uniform arrivals
    sits at T · Beta(x, M - x + 1).
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(27.0, 39.0, n)  # a cohort whose first purchases span 12 weeks, like CDNOW
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    repeats_before_dropout = rng.geometric(rng.beta(params.a, params.b, n))
    arrivals = rng.poisson(rate * T)
    x = np.minimum(repeats_before_dropout, arrivals)
    t_x = np.zeros(n)
    bought = x > 0
    t_x[bought] = T[bought] * rng.beta(x[bought], arrivals[bought] - x[bought] + 1)
    return x.astype(np.float64), t_x, T


def test_fit_recovers_parameters_of_simulated_population() -> None:
    """200,000 simulated customers: the fit runs on a 50,000 sample and lands near the truth.

    a and b are estimated with less precision than their mean a / (a + b) (sampling spread
    over seeds is ~10% for b at this size), hence the looser bound on them.
    """
    truth = BgNbdParams(r=0.6, alpha=8.0, a=0.5, b=3.0)
    x, t_x, T = _simulate(truth, 200_000, seed=1)
    fitted = fit_bgnbd(x, t_x, T)
    assert fitted.r == pytest.approx(truth.r, rel=0.05)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.05)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(truth.a / (truth.a + truth.b), rel=0.1)
    assert fitted.a == pytest.approx(truth.a, rel=0.25)
    assert fitted.b == pytest.approx(truth.b, rel=0.25)


def test_fit_sample_is_deterministic_per_seed() -> None:
    x, t_x, T = _simulate(PUBLISHED, 30_000, seed=2)
    first = fit_bgnbd(x, t_x, T, max_customers=5_000, seed=7)
    assert fit_bgnbd(x, t_x, T, max_customers=5_000, seed=7) == first
    assert fit_bgnbd(x, t_x, T, max_customers=5_000, seed=8) != first
    assert fit_bgnbd(x, t_x, T) != first  # all 30,000 are used below the default cap


def test_collapsing_duplicate_customers_does_not_change_the_fit(cdnow_summary: pd.DataFrame) -> None:
    """Identical rows are fitted once with a weight: twice the data, same maximum."""
    columns = [pd.concat([cdnow_summary[c]] * 2) for c in ("frequency", "recency", "T")]
    doubled = fit_bgnbd(*columns)
    single = fit_bgnbd(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    for name, value in single.as_dict().items():
        assert doubled.as_dict()[name] == pytest.approx(value, rel=1e-5)


def test_params_round_trip_through_json() -> None:
    params = BgNbdParams(r=np.float64(0.25), alpha=4.0, a=0.75, b=2.5)
    assert all(type(value) is float for value in params.as_dict().values())
    stored = json.loads(json.dumps(params.as_dict()))
    assert stored == {"r": 0.25, "alpha": 4.0, "a": 0.75, "b": 2.5}
    assert BgNbdParams(**stored) == params


def test_probability_alive_on_cdnow_follows_recency(cdnow_summary: pd.DataFrame) -> None:
    """Same purchase count, same age: the one who bought last long ago is less likely alive."""
    alive = probability_alive(PUBLISHED, [2, 2, 0], [30.43, 5.0, 0.0], [38.86, 38.86, 38.86])
    assert 0 < alive[1] < alive[0] < alive[2] == 1.0
    everyone = probability_alive(PUBLISHED, cdnow_summary["frequency"], cdnow_summary["recency"],
                                 cdnow_summary["T"])
    assert everyone.shape == (2357,)
    assert 0.0 < everyone.min() < 0.5 < everyone.max() == 1.0


# --- properties of P(alive) -------------------------------------------------------------------

positive = st.floats(min_value=1e-3, max_value=1e3)
params_strategy = st.builds(BgNbdParams, r=positive, alpha=positive, a=positive, b=positive)
repeats = st.integers(min_value=0, max_value=10**9)
times = st.floats(min_value=0.0, max_value=1e7)


@given(params=params_strategy, x=repeats, t1=times, t2=times)
@example(params=BgNbdParams(r=1.0, alpha=1.5, a=1.0, b=1.0), x=3, t1=0.0, t2=1.1e-308)  # underflows
def test_probability_alive_is_a_probability(params: BgNbdParams, x: int, t1: float, t2: float) -> None:
    t_x, T = sorted((t1, t2))
    with np.errstate(all="raise"):
        (alive,) = probability_alive(params, [x], [t_x], [T])
    assert 0.0 <= alive <= 1.0


@given(params=params_strategy, T=times)
def test_probability_alive_is_one_without_repeat_purchases(params: BgNbdParams, T: float) -> None:
    assert probability_alive(params, [0], [0.0], [T])[0] == 1.0


@given(params=params_strategy, x=repeats, t_x=times, T1=times, T2=times)
def test_longer_silence_never_raises_probability_alive(
    params: BgNbdParams, x: int, t_x: float, T1: float, T2: float
) -> None:
    shorter, longer = sorted((T1, T2))
    t_x = min(t_x, shorter)
    earlier, later = probability_alive(params, [x, x], [t_x, t_x], [shorter, longer])
    assert later <= earlier


@given(params=params_strategy, x=repeats, t1=times, t2=times, T=times)
def test_more_recent_purchase_never_lowers_probability_alive(
    params: BgNbdParams, x: int, t1: float, t2: float, T: float
) -> None:
    older, recent = sorted((min(t1, T), min(t2, T)))
    at_older, at_recent = probability_alive(params, [x, x], [older, recent], [T, T])
    assert at_recent >= at_older


def test_probability_alive_is_one_when_last_purchase_is_now() -> None:
    """With t_x == T nothing suggests dropout beyond the chance after the last purchase."""
    (alive,) = probability_alive(PUBLISHED, [1], [10.0], [10.0])
    assert alive == pytest.approx(1 / (1 + PUBLISHED.a / PUBLISHED.b))


# --- degenerate data and bad input ------------------------------------------------------------

def test_fit_refuses_when_nobody_repeats() -> None:
    with pytest.raises(ValueError, match="no customer made a repeat purchase"):
        fit_bgnbd([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 10.0, 20.0])


def test_fit_stays_finite_when_nobody_drops_out() -> None:
    """Everyone bought at the very end: the dropout estimate runs to 0, the result stays finite."""
    x, t_x, T = [3, 5, 2, 8], [10.0, 10.0, 10.0, 10.0], [10.0, 10.0, 10.0, 10.0]
    with np.errstate(all="raise"):
        fitted = fit_bgnbd(x, t_x, T)
    assert np.isfinite(list(fitted.as_dict().values())).all()
    assert fitted.a / fitted.b < 1e-3
    assert (probability_alive(fitted, x, t_x, T) > 0.999).all()


def test_fit_handles_a_single_repeat_buyer() -> None:
    fitted = fit_bgnbd([1], [1.0], [1.0])
    assert np.isfinite(list(fitted.as_dict().values())).all()


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        ([], [], [], "no customers"),
        ([1, 2], [1.0], [2.0, 3.0], "differ in length"),
        ([-1], [0.0], [1.0], "frequency must not be negative"),
        ([1], [-1.0], [1.0], "recency must not be negative"),
        ([1], [1.0], [-1.0], "age must not be negative"),
        ([1], [5.0], [4.0], "must not exceed age"),
        ([1.5], [1.0], [2.0], "whole numbers"),
        ([1], [float("nan")], [2.0], "recency must be finite"),
        ([1], [1.0], [float("inf")], "age must be finite"),
    ],
)
def test_bad_input_is_refused(frequency: list[float], recency: list[float], age: list[float],
                              message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(frequency, recency, age)
    with pytest.raises(ValueError, match=message):
        probability_alive(PUBLISHED, frequency, recency, age)


def test_fit_refuses_a_sample_size_below_one() -> None:
    with pytest.raises(ValueError, match="max_customers"):
        fit_bgnbd([1], [1.0], [2.0], max_customers=0)


# --- rfm_from_transactions ----------------------------------------------------------------------

def test_rfm_counts_days_and_ignores_later_transactions() -> None:
    times = pd.to_datetime([
        "2024-01-01 09:00", "2024-01-01 17:00",  # one purchase day
        "2024-01-08 12:00", "2024-01-15 23:59",  # the end day itself counts
        "2024-01-16 00:00",  # after the observation end
        "2024-01-10 08:00",  # customer b: a single purchase
        "2024-02-01 08:00",  # customer c: only after the end, so absent
    ])
    rfm = rfm_from_transactions(["a", "a", "a", "a", "a", "b", "c"], times, "2024-01-15 10:00",
                                unit_days=7)
    assert rfm["customer_id"].tolist() == ["a", "b"]
    assert rfm["frequency"].tolist() == [2, 0]
    assert rfm["recency"].tolist() == [2.0, 0.0]
    assert rfm["T"].tolist() == [2.0, 5 / 7]


def test_rfm_counts_calendar_days_in_the_times_zone() -> None:
    """Across a DST change a day is 23 hours long: still one day."""
    zone = "Europe/Berlin"
    times = pd.to_datetime(["2024-03-30 22:00", "2024-04-01 01:00"]).tz_localize(zone)
    rfm = rfm_from_transactions([1, 1], times, pd.Timestamp("2024-04-02 12:00", tz=zone), unit_days=1)
    assert rfm["recency"].tolist() == [2.0]
    assert rfm["T"].tolist() == [3.0]


def test_rfm_with_nothing_observed_is_empty() -> None:
    rfm = rfm_from_transactions([1], pd.to_datetime(["2024-02-01"]), "2024-01-01", unit_days=7)
    assert rfm.empty
    assert list(rfm.columns) == ["customer_id", "frequency", "recency", "T"]


@pytest.mark.parametrize(
    ("ids", "times", "end", "unit_days", "message"),
    [
        ([1], ["2024-01-01"], "2024-02-01", 0, "unit_days must be positive"),
        ([1, 2], ["2024-01-01"], "2024-02-01", 7, "differ in length"),
        ([1], [None], "2024-02-01", 7, "must not be missing"),
        ([1], ["2024-01-01T00:00+00:00"], "2024-02-01", 7, "timezone-aware"),
    ],
)
def test_rfm_bad_input_is_refused(ids: list[int], times: list[str | None], end: str, unit_days: float,
                                  message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rfm_from_transactions(ids, times, end, unit_days)
