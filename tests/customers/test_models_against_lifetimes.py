"""MBG/NBD and Gamma-Gamma checked on CDNOW against an independent implementation (lifetimes),
and Gamma-Gamma against its published estimates."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.customers.churn_model import BgNbdParams, expected_purchases, fit_bgnbd, probability_alive
from edm.customers.spend_model import GammaGammaParams, expected_order_value, fit_gamma_gamma
from tests.customers.test_churn_model import DATASETS

with warnings.catch_warnings():  # lifetimes is old: its imports warn on today's pandas and setuptools
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter

# Fader & Hardie's Gamma-Gamma note (2013) on the CDNOW sample: p 6.25, q 3.74, γ 15.44.
PUBLISHED_SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
SPEND_TOLERANCE = 5e-3  # relative; reached: p 2e-4, q 1e-3, γ 5e-4 (the published figures are rounded)
PARAMETER_TOLERANCE = 1e-4  # relative, our fit against lifetimes' on the same data
PREDICTION_TOLERANCE = 1e-5  # relative, our P(alive) and expected purchases against lifetimes'


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(DATASETS / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_spend() -> pd.DataFrame:
    # per customer: x repeat purchases, t_x, T and zbar, the mean value of the repeat purchases
    return pd.read_csv(DATASETS / "cdnow_customers_summary_with_transactions.csv")


def _rfm(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))  # type: ignore[return-value]


def test_mbg_nbd_fit_on_cdnow_agrees_with_lifetimes(cdnow: pd.DataFrame) -> None:
    x, t_x, T = _rfm(cdnow)
    ours = fit_bgnbd(x, t_x, T, modified=True)
    theirs = ModifiedBetaGeoFitter().fit(x, t_x, T).params_
    assert ours.modified and ours.name == "MBG/NBD"
    for name in ("r", "alpha", "a", "b"):
        assert getattr(ours, name) == pytest.approx(theirs[name], rel=PARAMETER_TOLERANCE), name
    # Published with lifetimes' docs for this sample: r 0.525, α 6.183, a 0.891, b 1.614.
    assert (round(ours.r, 3), round(ours.alpha, 3), round(ours.a, 3), round(ours.b, 3)) == (
        0.525, 6.183, 0.891, 1.614)


def test_mbg_nbd_predictions_agree_with_lifetimes_for_every_cdnow_customer(cdnow: pd.DataFrame) -> None:
    x, t_x, T = _rfm(cdnow)
    fitted = ModifiedBetaGeoFitter().fit(x, t_x, T)
    p = fitted.params_
    params = BgNbdParams(r=p["r"], alpha=p["alpha"], a=p["a"], b=p["b"], modified=True)
    assert probability_alive(params, x, t_x, T) == pytest.approx(
        fitted.conditional_probability_alive(x, t_x, T), rel=PREDICTION_TOLERANCE)
    for weeks in (13.0, 52.0):
        assert expected_purchases(params, weeks, x, t_x, T) == pytest.approx(
            fitted.conditional_expected_number_of_purchases_up_to_time(weeks, x, t_x, T),
            rel=PREDICTION_TOLERANCE)


def test_bg_nbd_expected_purchases_agree_with_lifetimes(cdnow: pd.DataFrame) -> None:
    x, t_x, T = _rfm(cdnow)
    fitted = BetaGeoFitter().fit(x, t_x, T)
    p = fitted.params_
    params = BgNbdParams(r=p["r"], alpha=p["alpha"], a=p["a"], b=p["b"])
    assert expected_purchases(params, 39.0, x, t_x, T) == pytest.approx(
        fitted.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T), rel=PREDICTION_TOLERANCE)


def test_one_time_buyers_have_a_real_churn_risk_under_mbg_nbd_but_not_bg_nbd(cdnow: pd.DataFrame) -> None:
    x, t_x, T = _rfm(cdnow)
    once = x == 0
    mbg = probability_alive(fit_bgnbd(x, t_x, T, modified=True), x, t_x, T)
    bg = probability_alive(fit_bgnbd(x, t_x, T), x, t_x, T)
    assert (bg[once] == 1.0).all()
    assert (mbg[once] < 0.65).all() and (mbg[once] > 0.3).all()
    # the longer a one-time buyer's silence, the lower their chance of being active
    ages = np.array([1.0, 10.0, 50.0, 100.0])
    alive = probability_alive(fit_bgnbd(x, t_x, T, modified=True), np.zeros(4), np.zeros(4), ages)
    assert (np.diff(alive) < 0).all()


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(cdnow_spend: pd.DataFrame) -> None:
    fitted = fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    for name, published in PUBLISHED_SPEND.as_dict().items():
        assert fitted.as_dict()[name] == pytest.approx(published, rel=SPEND_TOLERANCE), name


def test_gamma_gamma_agrees_with_lifetimes(cdnow_spend: pd.DataFrame) -> None:
    repeat = cdnow_spend[cdnow_spend["x"] > 0]
    x, m = repeat["x"].to_numpy(dtype=float), repeat["zbar"].to_numpy(dtype=float)
    theirs = GammaGammaFitter().fit(x, m)
    ours = fit_gamma_gamma(x, m)
    assert (ours.p, ours.q, ours.gamma) == pytest.approx(
        (theirs.params_["p"], theirs.params_["q"], theirs.params_["v"]), rel=PARAMETER_TOLERANCE)
    assert expected_order_value(ours, x, m) == pytest.approx(
        np.asarray(theirs.conditional_expected_average_profit(x, m)), rel=PARAMETER_TOLERANCE)


def test_expected_order_value_shrinks_toward_the_population_mean() -> None:
    params = PUBLISHED_SPEND
    population = params.p * params.gamma / (params.q - 1)
    values = expected_order_value(params, [0, 1, 10, 100], [np.nan, 100.0, 100.0, 100.0])
    assert values[0] == pytest.approx(population)
    assert population < values[1] < values[2] < values[3] < 100.0  # toward their own mean, never past it
    assert expected_order_value(params, [3], [-20.0])[0] == pytest.approx(
        expected_order_value(params, [3], [0.0])[0])  # returns outweighing sales count as nothing spent


def test_gamma_gamma_needs_two_repeat_buyers() -> None:
    with pytest.raises(ValueError, match="fewer than two"):
        fit_gamma_gamma([0, 0, 3], [np.nan, np.nan, 10.0])


@given(
    r=st.floats(0.05, 5), alpha=st.floats(0.1, 100), a=st.floats(0.05, 5), b=st.floats(0.05, 5),
    x=st.integers(0, 200), recency=st.floats(0, 500), silence=st.floats(0, 500), new_at=st.floats(0, 1),
)
def test_a_new_order_never_raises_the_churn_risk(
    r: float, alpha: float, a: float, b: float, x: int, recency: float, silence: float, new_at: float
) -> None:
    """Under MBG/NBD, an order placed now (or any time after the last one, seen now) makes the
    customer no less likely to be active: more evidence of buying, less of silence."""
    params = BgNbdParams(r=r, alpha=alpha, a=a, b=b, modified=True)
    t_x = 0.0 if x == 0 else recency
    T = t_x + silence
    before = probability_alive(params, [x], [t_x], [T])[0]
    after = probability_alive(params, [x + 1], [T], [T])[0]  # the new order is the latest moment
    assert after >= before - 1e-12


def test_expected_purchases_stay_finite_where_hyp2f1_gives_up() -> None:
    """Customers who all buy at one pace push r and α to ∞; scipy's hyp2f1 then returns NaN, and the
    posterior-rate fallback answers instead (2.90 by mpmath's hyp2f1 at 50 digits, for this customer)."""
    degenerate = BgNbdParams(r=1096075.515, alpha=4825107.237, a=1.5135, b=717.023, modified=True)
    expected = expected_purchases(degenerate, 90 / 7, [12], [380 / 7], [390 / 7])
    assert expected[0] == pytest.approx(2.90, rel=0.01)


def test_a_population_buying_at_one_pace_keeps_the_rate_shape_bounded() -> None:
    x = np.full(40, 12.0)
    t_x = np.full(40, 360 / 7)
    T = t_x + np.linspace(1, 5, 40)
    fitted = fit_bgnbd(x, t_x, T, modified=True)
    assert fitted.r <= 1e4 * (1 + 1e-9)
    assert np.isfinite(expected_purchases(fitted, 52.0, x, t_x, T)).all()
