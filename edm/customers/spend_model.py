"""What a customer spends per order, from the Gamma-Gamma model: the money side of predicted value.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", Journal of Marketing Research 42(4), 415-430, and Fader & Hardie's note "The
Gamma-Gamma Model of Monetary Value" (2013). Each of a customer's order values is
Gamma(p, ν) (so her own mean is p/ν), and ν is Gamma(q, γ) across customers. A customer
with x repeat orders of mean value m has likelihood

    ln L = ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(xm+γ)

and her expected value per order, her own mean shrunk toward the population's, is

    E[M | x, m] = p (γ + x m) / (p x + q - 1)      (p γ / (q - 1) with no repeat order).

Fitted on customers with at least one repeat order and a positive mean, as the model
assumes; the mean is over repeat orders only (the first is often atypical), as in the
published CDNOW example (p 6.25, q 3.74, γ 15.44).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from edm.customers.churn_model import DEFAULT_MAX_CUSTOMERS, LOG_BOUND  # the same sampling and bounds

FloatArray = npt.NDArray[np.float64]



@dataclass(frozen=True)
class GammaGammaParams:
    """Order value ~ Gamma(p, ν) per customer, ν ~ Gamma(q, γ) across customers."""

    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


def _checked(frequency: Any, mean_value: Any) -> tuple[FloatArray, FloatArray]:
    x, m = (np.asarray(values, dtype=np.float64).ravel() for values in (frequency, mean_value))
    if len(x) != len(m):
        raise ValueError(f"frequency and mean value differ in length: {len(x)}, {len(m)}")
    if not (np.isfinite(x).all() and np.isfinite(m).all()):
        raise ValueError("frequency and mean value must be finite numbers")
    if (x < 0).any() or (x != np.floor(x)).any():
        raise ValueError("frequency counts repeat orders and must be whole numbers, not negative")
    return x, m


def _negative_log_likelihood(
    log_params: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[float, FloatArray]:
    p, q, gamma = np.exp(log_params)
    px = p * x
    rest = np.log(x * m + gamma)
    value = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
             + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * rest)
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - rest)
    d_q = digamma(px + q) - digamma(q) + np.log(gamma) - rest
    d_gamma = q / gamma - (px + q) / (x * m + gamma)
    n = len(x)
    gradient = -np.array([d_p.sum(), d_q.sum(), d_gamma.sum()]) / n
    return -float(value.sum()) / n, gradient * np.array([p, q, gamma])


def fit_gamma_gamma(
    frequency: Any, mean_value: Any, *, max_customers: int = DEFAULT_MAX_CUSTOMERS, seed: int = 0
) -> GammaGammaParams:
    """Maximum-likelihood p, q, γ over the customers with a repeat order and a positive mean value.

    Above `max_customers` such customers a deterministic random sample is fitted. Raises
    ValueError when fewer than two customers qualify, or when the fit cannot give a finite
    expected value (q must exceed 1).
    """
    x, m = (np.asarray(values, dtype=np.float64).ravel() for values in (frequency, mean_value))
    usable = (x > 0) & (m > 0)  # NaN compares False: an unknown mean is left out too
    x, m = _checked(x[usable], m[usable])
    if len(x) < 2:
        raise ValueError("cannot fit Gamma-Gamma: fewer than two customers with a repeat order")
    if len(x) > max_customers:
        chosen = np.random.default_rng(seed).choice(len(x), size=max_customers, replace=False)
        x, m = x[chosen], m[chosen]
    scale = float(np.median(m))  # start where the data are, whatever the currency
    result = minimize(
        _negative_log_likelihood,
        np.log([1.0, 2.0, scale]),
        args=(x, m),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 3,
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000},
    )
    p, q, gamma = (float(v) for v in np.exp(result.x))
    if not (np.isfinite([p, q, gamma, result.fun]).all() and q > 1):
        raise ValueError(f"Gamma-Gamma fit gave no finite expected value: {result.message}")
    return GammaGammaParams(p=p, q=q, gamma=gamma)


def expected_order_value(params: GammaGammaParams, frequency: Any, mean_value: Any) -> FloatArray:
    """E[value per order | x repeat orders of mean m]: the population mean where x is 0.

    A mean of zero or less (returns outweigh sales) counts as zero, an unknown one as no repeat order.
    """
    raw = np.asarray(mean_value, dtype=np.float64).ravel()
    x, m = _checked(frequency, np.nan_to_num(raw))
    x = np.where(np.isnan(raw), 0.0, x)
    m = np.where(x > 0, np.maximum(m, 0.0), 0.0)
    value: FloatArray = params.p * (params.gamma + x * m) / (params.p * x + params.q - 1)
    return value
