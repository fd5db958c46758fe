"""Per-customer figures from raw orders: the input every classification dimension reads.

`customer_features` is pure numpy over columnar orders (one array per column, sorted
once), because a million customers with ten million orders must be summarised in
seconds; a SQL GROUP BY or a per-customer Python loop is several times slower. Times are
fractional days since the Unix epoch (UTC), which both databases compute cheaply.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from edm.config import ClassificationSettings
from edm.customers.churn_model import BgNbdParams, expected_purchases, fit_bgnbd, probability_alive
from edm.customers.classify import industry_codes
from edm.customers.rhythm import order_rhythm
from edm.customers.spend_model import GammaGammaParams, expected_order_value, fit_gamma_gamma

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

DAYS_PER_YEAR = 365.0
DAYS_PER_WEEK = 7.0
SECONDS_PER_DAY = 86_400.0
MIN_RATE_SPAN_DAYS = 30.0  # a rate over a shorter span says more about chance than habit
EXPECTED_ORDER_HORIZONS = (90, 365)  # days: expected_orders_90d, expected_orders_365d
LINE_LOOKBACK_DAYS = 365.0  # a line counts as dropped if bought in the year before the recent window
NO_LINE = -1
CHUNK_ORDERS = 1_000_000  # orders per slice where a per-order sort would copy every column


@dataclass(frozen=True)
class OrderColumns:
    """All orders as parallel arrays; `line` indexes `line_names` (NO_LINE when none)."""

    customer_id: IntArray
    day: FloatArray
    amount: FloatArray
    margin: FloatArray  # NaN where unknown
    line: np.ndarray[Any, np.dtype[np.integer[Any]]]  # int32 from the store
    line_names: tuple[str, ...]


@dataclass(frozen=True)
class FittedModels:
    """The population figures one classification run rests on, stored with the run."""

    churn: BgNbdParams | None = None  # MBG/NBD in weeks; None when too few customers bought twice
    spend: GammaGammaParams | None = None  # value per order; None likewise
    peer_intervals: dict[str, float] = field(default_factory=dict)  # days, by industry

    def as_dict(self) -> dict[str, Any]:
        churn = {"model": self.churn.name, **self.churn.as_dict()} if self.churn else None
        return {"churn": churn, "spend": self.spend.as_dict() if self.spend else None,
                "peer_intervals": dict(self.peer_intervals)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedModels:
        """The inverse of `as_dict` (a run's stored `churn_model`)."""
        churn, spend = data.get("churn"), data.get("spend")
        return cls(
            BgNbdParams(float(churn["r"]), float(churn["alpha"]), float(churn["a"]), float(churn["b"]),
                        modified=churn.get("model") == "MBG/NBD") if churn else None,
            GammaGammaParams(*(float(spend[k]) for k in ("p", "q", "gamma"))) if spend else None,
            {str(k): float(v) for k, v in (data.get("peer_intervals") or {}).items()},
        )


@dataclass(frozen=True)
class CustomerColumns:
    """Every customer (prospects included), sorted by id, with what classification needs of them."""

    customer_id: IntArray
    industry_text: list[str]
    share: FloatArray  # estimated share of wallet, NaN unknown
    category_spend: FloatArray  # estimated annual category spend, NaN unknown
    engaged_day: FloatArray  # last open or click, NaN never


def customer_features(
    customers: CustomerColumns, orders: OrderColumns, now_day: float, rules: ClassificationSettings,
    *, fitted: FittedModels | None = None,
) -> tuple[pd.DataFrame, FittedModels]:
    """The features frame `edm.customers.classify` expects, and the models fitted on the way.

    `fitted`: the population figures of an earlier run, used as they are (nothing is fitted): a few
    customers refreshed between full runs (edm.reactions) are judged against the whole population.

    A model is None when too few customers have bought twice to fit it; what it gives
    (P(alive), expected orders, predicted value) is then unknown (NaN) for everyone.
    """
    ids = customers.customer_id
    n = len(ids)
    orders = by_customer_then_day(orders)
    cid, day, amount, margin = orders.customer_id, orders.day, orders.amount, orders.margin
    starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]]) if len(cid) else np.empty(0, np.int64)
    sizes = np.diff(np.r_[starts, len(cid)])
    ends = starts + sizes - 1
    position = np.searchsorted(ids, cid[starts])  # one search per customer, not per order
    listed = position < n
    listed[listed] = ids[position[listed]] == cid[starts][listed]
    if not listed.all():
        raise ValueError("an order refers to a customer that is not in the customer list")
    who = np.repeat(position, sizes)

    count = np.bincount(who, minlength=n)
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    first[position] = day[starts]
    last[position] = day[ends]

    known = ~np.isnan(margin)
    margin_total = _per_customer(who, n, np.where(known, margin, 0.0))
    margin_base = _per_customer(who, n, np.where(known, amount, 0.0))
    has_margin = _per_customer(who, n, known) > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        margin_rate = np.where(has_margin & (margin_base > 0), margin_total / margin_base, np.nan)

    since_first = now_day - first
    annual_revenue = _per_customer(who, n, np.where(day > now_day - DAYS_PER_YEAR, amount, 0.0))
    whole_day = np.floor(day)
    first_day_revenue = _per_customer(who, n, np.where(whole_day == np.floor(first)[who], amount, 0.0))
    revenue = _per_customer(who, n, amount)
    orders_per_year = _rate(who, day, n, now_day, since_first, rules.purchase_frequency.window_days)
    dropped_lines = _dropped_lines(orders, who, n, now_day, rules.churn_kind.recent_days)
    # one row per order day: several orders placed on one day are one purchase
    fresh = np.r_[True, (who[1:] != who[:-1]) | (whole_day[1:] != whole_day[:-1])] if len(who) \
        else np.zeros(0, bool)
    d_who, d_day = who[fresh], whole_day[fresh]
    # as big as the orders, and nothing below needs them: not kept while the rhythm is worked out (the
    # peak of a classification)
    del whole_day, fresh, who
    gaps = _gaps(d_who, d_day, n)
    industry = industry_codes(pd.Series(customers.industry_text, dtype=object), rules.industry)
    peers = fitted.peer_intervals if fitted is not None else None
    rhythm = order_rhythm(d_who, d_day, n, industry, float(np.floor(now_day)), rules, peers=peers)
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "industry_text": pd.Series(customers.industry_text, dtype=object),
            "order_count": count.astype(np.int64),
            "order_days": gaps.order_days,
            "revenue": revenue,
            "margin": np.where(has_margin, margin_total, np.nan),
            "margin_rate": margin_rate,
            "annual_revenue": annual_revenue,
            "days_since_first": since_first,
            "days_since_last": now_day - last,
            "longest_gap_days": gaps.longest,
            "mean_gap_days": gaps.mean,
            "gap_variation": gaps.variation,
            "orders_per_year": orders_per_year,
            "recent_orders_per_year": rhythm.recent_rate,
            "usual_orders_per_year": rhythm.usual_rate,
            "expected_interval_days": rhythm.expected_interval,
            "days_since_return": now_day - rhythm.return_day,
            "orders_since_return": rhythm.orders_since_return,
            "share_of_wallet": _share_of_wallet(customers, annual_revenue),
            "dropped_lines": dropped_lines,
            "days_since_engaged": now_day - customers.engaged_day,
            "first_order_day": first,
            "last_order_day": last,
            "return_day": rhythm.return_day,
        },
        copy=False,  # the columns as they are: a copy of every one would be ~200 MB at a million customers
    )
    buyers = _in_weeks(frame, now_day)  # what both models are fitted on
    churn = _churn_model(frame, buyers, fitted)
    spend = _spend_model(frame, buyers, first_day_revenue, churn, rules.rhythm.value_horizon_days, fitted)
    return frame, FittedModels(churn, spend, rhythm.peer_intervals)


def _per_customer(who: IntArray, n: int, weights: FloatArray | np.ndarray[Any, Any]) -> FloatArray:
    """`weights` summed per customer (`who`: each order's customer position)."""
    return np.bincount(who, weights=weights, minlength=n).astype(float)


def by_customer_then_day(orders: OrderColumns) -> OrderColumns:
    """The orders sorted by customer, then time (the same object when they already are).

    A stable sort of one int64 key (customer in the high bits, the second within the
    span of all orders in the low 32) is a radix sort: about a seventh of `np.lexsort`
    on ten million orders. Two orders of a customer within one second may then be out
    of order; that, and ids or spans too large for the key, fall back to lexsort.
    """
    cid, day = orders.customer_id, orders.day
    if not len(day) or _in_order(cid, day):
        return orders
    seconds = day - day.min()  # in place from here: each temporary is as big as a column
    seconds *= SECONDS_PER_DAY
    np.round(seconds, out=seconds)
    if cid.min() >= 0 and cid.max() < 2**31 and seconds.max() < 2**32:
        key = cid << 32
        key |= seconds.astype(np.int64)
        del seconds
        order = np.argsort(key, kind="stable")
        del key
        if not _in_order(cid[order], day[order]):
            order = np.lexsort((day, cid))
    else:
        del seconds
        order = np.lexsort((day, cid))
    columns = {name: getattr(orders, name) for name in ("customer_id", "day", "amount", "margin", "line")}
    for name, values in columns.items():  # one column at a time: at most one extra copy alive
        columns[name] = values[order]
    return OrderColumns(**columns, line_names=orders.line_names)


def _in_order(customer_id: IntArray, day: FloatArray) -> bool:
    same = customer_id[1:] == customer_id[:-1]
    return bool(((customer_id[1:] > customer_id[:-1]) | (same & (day[1:] >= day[:-1]))).all())


@dataclass(frozen=True)
class _Gaps:
    order_days: IntArray
    longest: FloatArray
    mean: FloatArray
    variation: FloatArray


def _gaps(d_who: IntArray, d_day: FloatArray, n: int) -> _Gaps:
    """Gaps between a customer's distinct order days (given sorted by customer, then day)."""
    order_days = np.bincount(d_who, minlength=n).astype(np.int64)
    same = d_who[1:] == d_who[:-1]
    gap = np.diff(d_day)[same]
    g_who = d_who[1:][same]
    gap_count = np.bincount(g_who, minlength=n)
    total = np.bincount(g_who, weights=gap, minlength=n)
    squares = np.bincount(g_who, weights=gap * gap, minlength=n)
    longest = np.full(n, np.nan)
    if len(gap):  # gaps come grouped by customer: the maximum of each group
        group = np.flatnonzero(np.r_[True, g_who[1:] != g_who[:-1]])
        longest[g_who[group]] = np.maximum.reduceat(gap, group)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(gap_count > 0, total / gap_count, np.nan)
        spread = np.sqrt(np.maximum(squares / gap_count - mean * mean, 0.0))
        variation = np.where((gap_count >= 2) & (mean > 0), spread / mean, np.nan)
    return _Gaps(order_days, longest, mean, variation)


def _rate(
    who: IntArray, day: FloatArray, n: int, now_day: float, since_first: FloatArray, window: float
) -> FloatArray:
    """Orders per year over the last `window` days, or over the customer's tenure if shorter."""
    recent = np.bincount(who, weights=(day > now_day - window).astype(float), minlength=n)
    span = np.clip(np.nan_to_num(since_first, nan=window), MIN_RATE_SPAN_DAYS, window)
    return recent / span * DAYS_PER_YEAR


def _share_of_wallet(customers: CustomerColumns, annual_revenue: FloatArray) -> FloatArray:
    """The estimated share, else our last-year sales over the estimated category spend (at most 1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        derived = np.where(customers.category_spend > 0, annual_revenue / customers.category_spend, np.nan)
    share = np.where(np.isnan(customers.share), derived, customers.share)
    return np.clip(share, 0.0, 1.0)


def _dropped_lines(
    orders: OrderColumns, who: IntArray, n: int, now_day: float, recent_days: float
) -> list[str]:
    """Per customer, the product lines bought in the year before the recent window but not since.

    `orders` are sorted by customer then time, so a stable sort by (customer, line) leaves each
    pair's last order at the end of its group. Sorted a slice of whole customers at a time: the
    sort's copies stay small.
    """
    dropped = [""] * n
    names = len(orders.line_names)
    if not names:
        return dropped
    cut = now_day - recent_days
    for part in _whole_customers(who, CHUNK_ORDERS):
        valid = orders.line[part] != NO_LINE
        pair = (who[part] * names + orders.line[part])[valid]
        order = np.argsort(pair, kind="stable")
        pair, day = pair[order], orders.day[part][valid][order]
        ends = np.flatnonzero(np.r_[pair[1:] != pair[:-1], True]) if len(pair) else np.empty(0, np.int64)
        last_day = day[ends]
        gone = pair[ends][(last_day <= cut) & (last_day > cut - LINE_LOOKBACK_DAYS)]
        for customer, code in zip((gone // names).tolist(), (gone % names).tolist(), strict=True):
            name = orders.line_names[code]  # pairs come sorted, and names are sorted: so is each list
            dropped[customer] = f"{dropped[customer]}, {name}" if dropped[customer] else name
    return dropped


def _whole_customers(who: IntArray, size: int) -> Iterator[slice]:
    """Slices of about `size` orders (sorted by customer) that never split a customer's orders."""
    at = 0
    while at < len(who):
        end = at + size
        if end >= len(who):
            end = len(who)
        else:  # back to where the customer at `end` starts, or on to where the one at `at` ends
            end = int(np.searchsorted(who, who[end], "left"))
            if end <= at:
                end = int(np.searchsorted(who, who[at], "right"))
        yield slice(at, end)
        at = end


def _churn_model(frame: pd.DataFrame, weeks: _InWeeks, fitted: FittedModels | None) -> BgNbdParams | None:
    """Fit MBG/NBD in weeks over the customers who ordered; store P(alive) and expected orders in the frame.

    MBG/NBD, not BG/NBD: a one-time buyer may have dropped out too (edm.customers.churn_model).
    """
    columns = ("probability_alive", *(f"expected_orders_{days}d" for days in EXPECTED_ORDER_HORIZONS))
    for column in columns:
        frame[column] = np.nan
    buyers, repeat, recency, age = weeks
    if fitted is not None:
        if fitted.churn is None:
            return None
        params = fitted.churn
    else:
        try:
            params = fit_bgnbd(repeat, recency, age, modified=True)
        except ValueError:
            return None
    frame.loc[buyers, "probability_alive"] = probability_alive(params, repeat, recency, age)
    for days in EXPECTED_ORDER_HORIZONS:
        frame.loc[buyers, f"expected_orders_{days}d"] = expected_purchases(
            params, days / DAYS_PER_WEEK, repeat, recency, age)
    return params


def _spend_model(
    frame: pd.DataFrame, weeks: _InWeeks, first_day_revenue: FloatArray, churn: BgNbdParams | None,
    horizon_days: int, fitted: FittedModels | None,
) -> GammaGammaParams | None:
    """Fit Gamma-Gamma on repeat order days' mean value; predicted value = expected orders × value per order.

    The first order day is left out of the mean (edm.customers.spend_model), as in the model's
    published use. Unknown without either model.
    """
    frame["predicted_value"] = np.nan
    buyers, repeat, recency, age = weeks
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_value = (frame["revenue"].to_numpy()[buyers] - first_day_revenue[buyers]) / repeat
    if fitted is not None:
        if fitted.spend is None:
            return None
        params = fitted.spend
    else:
        try:
            params = fit_gamma_gamma(repeat[repeat > 0], mean_value[repeat > 0])
        except ValueError:
            return None
    if churn is not None:
        column = f"expected_orders_{horizon_days}d"
        orders = (frame[column].to_numpy()[buyers] if column in frame.columns
                  else expected_purchases(churn, horizon_days / DAYS_PER_WEEK, repeat, recency, age))
        value = expected_order_value(params, repeat, np.where(repeat > 0, mean_value, np.nan))
        frame.loc[buyers, "predicted_value"] = orders * value
    return params


class _InWeeks(NamedTuple):
    """Who ordered, and their (x, t_x, T) in weeks: repeat order days, last and now since the first."""

    buyers: np.ndarray[Any, np.dtype[np.bool_]]
    repeat: FloatArray
    recency: FloatArray
    age: FloatArray


def _in_weeks(frame: pd.DataFrame, now_day: float) -> _InWeeks:
    buyers = frame["order_count"].to_numpy() > 0
    first = np.floor(frame["first_order_day"].to_numpy()[buyers])
    last = np.floor(frame["last_order_day"].to_numpy()[buyers])
    repeat = frame["order_days"].to_numpy()[buyers] - 1.0
    recency = (last - first) / DAYS_PER_WEEK
    age = np.maximum((now_day - first) / DAYS_PER_WEEK, recency)
    return _InWeeks(buyers, repeat, recency, age)


def day_timestamps(days: FloatArray) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    """Fractional epoch days back to UTC datetime64, to the millisecond (NaN → NaT)."""
    millis = np.round(days * SECONDS_PER_DAY * 1000.0)
    stamps = np.where(np.isnan(millis), 0, millis).astype("int64").astype("datetime64[ms]")
    stamps[np.isnan(millis)] = np.datetime64("NaT")
    return stamps
