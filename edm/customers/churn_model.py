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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln

FloatArray = npt.NDArray[np.float64]

DEFAULT_MAX_CUSTOMERS = 50_000
# Each parameter is kept within [e^-LOG_BOUND, e^LOG_BOUND]: wide enough never to bind
# on real data, and it keeps a fit finite when the data push a parameter to 0 or ∞
# (e.g. nobody seems to drop out, so a -> 0).
LOG_BOUND = 18.0


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted population parameters: purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        """Plain floats, ready to be stored as JSON."""
        return {key: float(value) for key, value in asdict(self).items()}


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
    log_params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, weight: FloatArray
) -> tuple[float, FloatArray]:
    """Mean negative BG/NBD log-likelihood and its gradient with respect to log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    log_rest_t = np.log(alpha + t_x)
    log_rest_T = np.log(alpha + T)
    # ln L = common + ln[(α+T)^-(r+x) + [x>0]·a/(b+x-1)·(α+t_x)^-(r+x)] = common + ln(e^A3 + e^A4)
    common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
              + gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x))
    a3 = -(r + x) * log_rest_T
    b_x = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(b_x) - (r + x) * log_rest_t, -np.inf)
    mix = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - mix), np.exp(a4 - mix)  # shares of the two terms; w4 == 0 when x == 0

    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * log_rest_T - w4 * log_rest_t
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / b_x
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
    max_customers: int = DEFAULT_MAX_CUSTOMERS,
    seed: int = 0,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters for customers given as (x, t_x, T) arrays.

    The parameters describe the population, so above `max_customers` a deterministic
    random sample (from `seed`) is fitted: a million customers cost what 50,000 do.
    Identical (x, t_x, T) rows are fitted once, weighted by their count.

    Raises ValueError on bad input, and when nobody made a repeat purchase: then the
    likelihood does not involve the dropout at all and keeps rising as α -> ∞, so there
    is nothing to estimate (and P(alive) is 1 for everyone anyway).
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
        args=(x, t_x, T, counts.astype(np.float64)),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 4,
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000},
    )
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    if not np.isfinite([r, alpha, a, b, result.fun]).all():
        raise ValueError(f"BG/NBD fit did not converge: {result.message}")
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b)


def log_likelihood(params: BgNbdParams, frequency: Any, recency: Any, age: Any) -> float:
    """Total BG/NBD log-likelihood of customers under `params`, to compare fits with each other."""
    x, t_x, T = _checked(frequency, recency, age)
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    mean_negative, _ = _negative_log_likelihood(log_params, x, t_x, T, np.ones(len(x)))
    return -mean_negative * len(x)


def probability_alive(params: BgNbdParams, frequency: Any, recency: Any, age: Any) -> FloatArray:
    """P(alive | x, t_x, T) per customer; exactly 1 for customers with no repeat purchase.

    Computed as expit(-log odds of having dropped out), so huge x or T cannot overflow.
    """
    x, t_x, T = _checked(frequency, recency, age)
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)  # keeps b + x - 1 > 0 where the term is unused
    with np.errstate(under="ignore"):  # a vanishing gap is a gap of 0, as it should be
        log_odds_dead = (np.log(params.a) - np.log(params.b + x_safe - 1)
                         + (params.r + x_safe) * np.log1p((T - t_x) / (params.alpha + t_x)))
    alive: FloatArray = np.where(repeat, expit(-log_odds_dead), 1.0)
    return alive


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
