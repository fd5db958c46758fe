"""Churn risk from the BG/NBD model: the probability that a customer is still active.

Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An Alternative
to the Pareto/NBD Model", Marketing Science 24(2), 275-284. While active, a customer
buys at a Poisson rate λ ~ Gamma(r, α); after each purchase she drops out with
probability p ~ Beta(a, b). A customer is summarised by x (repeat purchases: purchase
days after the first), t_x (time of the last purchase, from the first) and T (time
from the first purchase to the end of observation), all in one time unit. Then

    L(r, α, a, b | x, t_x, T) = B(a, b+x)/B(a, b) · Γ(r+x) α^r / Γ(r) ·
        [ (α+T)^-(r+x) + [x>0] · a/(b+x-1) · (α+t_x)^-(r+x) ]

    P(alive | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))

Why BG/NBD: its four parameters describe the whole population, so they are fitted
once on a sample, and P(alive) is then a closed form for every customer: it drops
the longer a customer stays silent relative to her own buying pace, which is the
plain reason we give with the churn risk.

The MBG/NBD variant (Batislam, Denizel & Filiztekin 2007, "Empirical validation and
comparison of models for customer base analysis", IJRM 24(3), 201-209) lets a customer
drop out at time zero too, right after the first purchase. BG/NBD cannot: with no
repeat purchase its P(alive) is exactly 1, so a one-time buyer silent for years would
show no churn risk. With s = 1 for MBG/NBD (0 for BG/NBD) both read

    L = Γ(r+x) α^r / Γ(r) · B(a, b+x+s)/B(a, b) ·
        [ (α+T)^-(r+x) + [x>0 or s=1] · a/(b+x+s-1) · (α+t_x)^-(r+x) ]

    P(alive) = 1 / (1 + [x>0 or s=1] · a/(b+x+s-1) · ((α+T)/(α+t_x))^(r+x))

and the expected number of purchases in the next t (Fader, Hardie & Lee 2005, eq. 10;
Batislam et al. eq. 6), with z = t/(α+T+t) and 2F1 rewritten by Euler's transformation
so that it stays finite for customers with many purchases:

    E[Y(t) | x, t_x, T] = (a+b+x+s-1)/(a-1) · [1 - (1-z)^(a-1) · 2F1(a+b+s-1-r, a-1; a+b+x+s-1; z)]
                          · P(alive)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1

FloatArray = npt.NDArray[np.float64]

DEFAULT_MAX_CUSTOMERS = 50_000
# Each parameter is kept within [e^-LOG_BOUND, e^LOG_BOUND]: wide enough never to bind
# on real data, and it keeps a fit finite when the data push a parameter to 0 or ∞
# (e.g. nobody seems to drop out, so a -> 0).
LOG_BOUND = 18.0
# r, the shape of the purchase rates' Gamma, is kept at most 10^4: customers who all buy at
# one pace push it to ∞, while a shape of 10^4 already spreads the rates by only 1%. Past
# about 10^5, scipy's hyp2f1 in `expected_purchases` gives no answer.
MAX_RATE_SHAPE = 1e4


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted population parameters: purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b).

    `modified`: the MBG/NBD variant (a customer may drop out right after the first purchase).
    """

    r: float
    alpha: float
    a: float
    b: float
    modified: bool = False

    @property
    def name(self) -> str:
        return "MBG/NBD" if self.modified else "BG/NBD"

    def as_dict(self) -> dict[str, float]:
        """Plain floats, ready to be stored as JSON."""
        return {key: float(value) for key, value in asdict(self).items() if key != "modified"}


def _checked(frequency: Any, recency: Any, age: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, T) as float arrays, or a ValueError that says which input is wrong."""
    x, t_x, T = (np.asarray(values, dtype=np.float64).ravel() for values in (frequency, recency, age))
    if not len(x) == len(t_x) == len(T):
        raise ValueError(f"frequency, recency and age differ in length: {len(x)}, {len(t_x)}, {len(T)}")
    if len(x) == 0:
        raise ValueError("no customers given")
    for name, values in (("frequency", x), ("recency", t_x), ("age", T)):
        if not np.isfinite(values).all():
            raise ValueError(f"{name} must be finite numbers (no NaN or infinity)")
        if (values < 0).any():
            raise ValueError(f"{name} must not be negative")
    if (x != np.floor(x)).any():
        raise ValueError("frequency counts repeat purchases and must be whole numbers")
    if (t_x > T).any():
        raise ValueError("recency (time of the last purchase) must not exceed age (time observed)")
    return x, t_x, T


def _negative_log_likelihood(
    log_params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, weight: FloatArray, shift: float
) -> tuple[float, FloatArray]:
    """Mean negative (M)BG/NBD log-likelihood and its gradient with respect to log-parameters.

    `shift` is s in the module docstring: 0 for BG/NBD, 1 for MBG/NBD.
    """
    r, alpha, a, b = np.exp(log_params)
    dropout_term = (x > 0) | (shift > 0)
    log_rest_t = np.log(alpha + t_x)
    log_rest_T = np.log(alpha + T)
    # ln L = common + ln[(α+T)^-(r+x) + [x>0 or s]·a/(b+x+s-1)·(α+t_x)^-(r+x)] = common + ln(e^A3 + e^A4)
    bx, abx = b + x + shift, a + b + x + shift
    common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
              + gammaln(a + b) + gammaln(bx) - gammaln(b) - gammaln(abx))
    a3 = -(r + x) * log_rest_T
    b_x = np.where(dropout_term, bx - 1, 1.0)
    a4 = np.where(dropout_term, np.log(a) - np.log(b_x) - (r + x) * log_rest_t, -np.inf)
    mix = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - mix), np.exp(a4 - mix)  # shares of the two terms; w4 == 0 without the term

    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * log_rest_T - w4 * log_rest_t
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - digamma(abx) + w4 / a
    d_b = digamma(a + b) + digamma(bx) - digamma(b) - digamma(abx) - w4 / b_x
    # Weighted sums as multiply-and-sum, not `@`: a BLAS dot may spin up threads, which
    # costs more than the sum itself at these sizes.
    total = weight.sum()
    value = -float((weight * (common + mix)).sum()) / total
    gradient = -np.array([(weight * d).sum() for d in (d_r, d_alpha, d_a, d_b)]) / total
    return value, gradient * np.array([r, alpha, a, b])  # chain rule for the log-parameters


def fit_bgnbd(
    frequency: Any,
    recency: Any,
    age: Any,
    *,
    modified: bool = False,
    max_customers: int = DEFAULT_MAX_CUSTOMERS,
    seed: int = 0,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD (or, `modified`, MBG/NBD) parameters for customers given as (x, t_x, T).

    The parameters describe the population, so above `max_customers` a deterministic
    random sample (from `seed`) is fitted: a million customers cost what 50,000 do.
    Identical (x, t_x, T) rows are fitted once, weighted by their count.

    Raises ValueError on bad input, and when nobody made a repeat purchase: then the
    likelihood keeps rising as α -> ∞ (nobody buys again, whether dropped out or not),
    so there is nothing to estimate.
    """
    x, t_x, T = _checked(frequency, recency, age)
    if max_customers < 1:
        raise ValueError(f"max_customers must be at least 1, got {max_customers}")
    if not (x > 0).any():
        raise ValueError("cannot fit BG/NBD: no customer made a repeat purchase")
    if len(x) > max_customers:
        chosen = np.random.default_rng(seed).choice(len(x), size=max_customers, replace=False)
        x, t_x, T = x[chosen], t_x[chosen], T[chosen]
    rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    x, t_x, T = rows.T
    # Start at r = a = b = 1 and α at the typical age, so the start does not depend on the time unit.
    start = np.log([1.0, max(float(np.median(T)), 1e-3), 1.0, 1.0])
    result = minimize(
        _negative_log_likelihood,
        start,
        args=(x, t_x, T, counts.astype(np.float64), 1.0 if modified else 0.0),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, float(np.log(MAX_RATE_SHAPE)))] + [(-LOG_BOUND, LOG_BOUND)] * 3,
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000},
    )
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    if not np.isfinite([r, alpha, a, b, result.fun]).all():
        raise ValueError(f"BG/NBD fit did not converge: {result.message}")
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b, modified=modified)


def log_likelihood(params: BgNbdParams, frequency: Any, recency: Any, age: Any) -> float:
    """Total log-likelihood of customers under `params`, to compare fits with each other."""
    x, t_x, T = _checked(frequency, recency, age)
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    mean_negative, _ = _negative_log_likelihood(log_params, x, t_x, T, np.ones(len(x)), _shift(params))
    return -mean_negative * len(x)


def probability_alive(params: BgNbdParams, frequency: Any, recency: Any, age: Any) -> FloatArray:
    """P(alive | x, t_x, T) per customer; under BG/NBD exactly 1 for customers with no repeat purchase.

    Computed as expit(-log odds of having dropped out), so huge x or T cannot overflow.
    """
    x, t_x, T = _checked(frequency, recency, age)
    log_odds_dead, dropout_term = _log_odds_dead(params, x, t_x, T)
    alive: FloatArray = np.where(dropout_term, expit(-log_odds_dead), 1.0)
    return alive


def expected_purchases(
    params: BgNbdParams, horizon: float, frequency: Any, recency: Any, age: Any
) -> FloatArray:
    """E[purchases in the next `horizon` | x, t_x, T] per customer (horizon in the model's time unit)."""
    if not horizon >= 0:
        raise ValueError(f"horizon must not be negative, got {horizon}")
    x, t_x, T = _checked(frequency, recency, age)
    r, alpha, a, b, s = params.r, params.alpha, params.a, params.b, _shift(params)
    z = horizon / (alpha + T + horizon)
    with np.errstate(under="ignore", invalid="ignore"):  # hyp2f1 may give NaN: handled below
        tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b + s - 1 - r, a - 1, a + b + x + s - 1, z)
        unconditional = (a + b + x + s - 1) / (a - 1) * (1 - tail)
    # where hyp2f1 gives no answer, the purchases of a customer who does not drop out meanwhile:
    # their posterior mean rate (r+x)/(α+T) over the horizon (an upper bound, close for short ones)
    known = np.isfinite(unconditional)
    lasting = (r + x) / (alpha + T) * horizon
    alive = probability_alive(params, x, t_x, T)
    expected: FloatArray = np.where(known, np.maximum(np.where(known, unconditional, 0.0), 0.0), lasting)
    expected *= alive
    return expected


def _shift(params: BgNbdParams) -> float:
    return 1.0 if params.modified else 0.0


def _log_odds_dead(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """log(a/(b+x+s-1)) + (r+x)·log((α+T)/(α+t_x)), and where the dropout term exists at all."""
    s = _shift(params)
    dropout_term = (x > 0) | (s > 0)
    x_safe = np.where(dropout_term, x, 1.0)  # keeps b + x - 1 > 0 where the term is unused
    with np.errstate(under="ignore"):  # a vanishing gap is a gap of 0, as it should be
        log_odds: FloatArray = (np.log(params.a) - np.log(params.b + x_safe + s - 1)
                                + (params.r + x_safe) * np.log1p((T - t_x) / (params.alpha + t_x)))
    return log_odds, dropout_term


def rfm_from_transactions(
    customer_ids: Any,
    times: Any,
    observation_end: datetime | np.datetime64 | str,
    unit_days: float,
) -> pd.DataFrame:
    """Per customer: frequency, recency and T (in `unit_days` units) from transaction times.

    Resolution is one day, as lifetimes' `summary_data_from_transaction_data(freq="D")`:
    purchases on the same day count once, and `observation_end` stands for its whole
    day (transactions on later days are ignored; T is counted to the start of that day).
    Returns columns customer_id, frequency, recency, T, sorted by customer_id.
    """
    if not unit_days > 0:
        raise ValueError(f"unit_days must be positive, got {unit_days}")
    stamps = pd.Series(pd.to_datetime(times))
    ids = pd.Series(np.asarray(customer_ids))
    if len(ids) != len(stamps):
        raise ValueError(f"customer_ids and times differ in length: {len(ids)}, {len(stamps)}")
    if stamps.isna().any():
        raise ValueError("times must not be missing")
    end = pd.Timestamp(observation_end)
    if (stamps.dt.tz is None) != (end.tz is None):
        raise ValueError("times and observation_end must both be timezone-aware or both naive")
    if stamps.dt.tz is not None:  # count calendar days in the times' zone, so DST shifts do not
        end = end.tz_convert(stamps.dt.tz).tz_localize(None)
        stamps = stamps.dt.tz_localize(None)
    days, end = stamps.dt.floor("D"), end.floor("D")
    kept = (days <= end).to_numpy()
    per_customer = pd.DataFrame({"customer_id": ids[kept], "day": days[kept]}).groupby("customer_id")["day"]
    first, last = per_customer.min(), per_customer.max()
    return pd.DataFrame({
        "customer_id": first.index.to_numpy(),
        "frequency": (per_customer.nunique() - 1).to_numpy(dtype=np.int64),
        "recency": (last - first).dt.days.to_numpy(dtype=np.float64) / unit_days,
        "T": (end - first).dt.days.to_numpy(dtype=np.float64) / unit_days,
    })
