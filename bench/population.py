"""A realistic synthetic customer population, written to CSV in chunks: for benchmarks.

What makes it realistic enough to measure on:
- skewed spend: per-customer order values are lognormal, a few whales (Pareto) buy
  orders of magnitude more; purchase rates vary widely (lognormal, 0.3 to 100+ a year);
- seasonality: more orders in the weeks before Spring Festival and in Q4, few in the
  festival week itself; customers are acquired over the whole period;
- churners (a share who stopped ordering 1 to 3 years ago) and partial churners (who
  stopped buying one of their product lines but still buy the others);
- 3 to 8 product lines; the margin is known (a cost column) for most orders, and some
  deals lose money;
- industries as free text in English and Chinese, as CRMs hold them.

Orders are written month by month in time order (as an ERP export is), with ids in
that order. Everything is numpy per chunk; nothing holds the whole file. The data is
valid: every row imports cleanly.

    python bench/population.py /tmp/pop --customers 100000 --orders 1000000
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

TODAY = date(2026, 3, 1)
YEARS = 4
CHURNERS = 0.20  # stopped ordering 1 to 3 years before today
PARTIAL_CHURNERS = 0.12  # stopped one product line
WHALES = 0.005
NO_COST = 0.12  # orders whose cost (so margin) is unknown
SPRING_FESTIVALS = [date(y, m, d) for y, m, d in (
    (2019, 2, 5), (2020, 1, 25), (2021, 2, 12), (2022, 2, 1), (2023, 1, 22), (2024, 2, 10),
    (2025, 1, 29), (2026, 2, 17), (2027, 2, 6), (2028, 1, 26), (2029, 2, 13), (2030, 2, 3),
)]
PRODUCT_LINES = ("valves", "pumps", "sensors", "fittings", "maintenance", "controls", "filters", "software")
INDUSTRIES = (
    "Manufacturing", "制造业", "manufacturer of valves", "Industrial machinery", "机械制造",
    "wholesale trade", "贸易", "Retail", "零售", "商贸", "software services", "服务业", "consulting",
    "logistics", "物流服务", "Education", "", "other",
)
INDUSTRY_WEIGHTS = np.array([14, 12, 4, 4, 5, 8, 7, 5, 4, 3, 6, 5, 3, 4, 2, 2, 6, 3], dtype=float)
CITIES = ("上海", "北京", "广州", "深圳", "杭州", "苏州", "宁波", "天津", "成都", "武汉")
TRADES = ("华东阀门", "精密机械", "电子科技", "国际贸易", "物流", "软件", "五金", "化工", "建材", "食品")
SUFFIXES = ("有限公司", "股份有限公司", "集团")
EN_NAMES = ("Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne")
EN_TRADES = ("Valves", "Engineering", "Trading", "Logistics", "Software", "Foods", "Chemicals")
SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "Smith", "Brown", "Lee", "Tan")
GIVEN = ("芳", "伟", "娜", "敏", "静", "强", "磊", "洋", "Ann", "Bo", "Chen", "Mei", "Tom", "Lucy")
LOCALES = (("zh-CN", "Asia/Shanghai"), ("zh-TW", "Asia/Taipei"), ("zh-HK", "Asia/Hong_Kong"),
           ("en-US", "America/New_York"), ("en-GB", "Europe/London"), ("en-SG", "Asia/Singapore"))
LOCALE_WEIGHTS = np.array([50, 8, 7, 15, 10, 10], dtype=float)
DOMAINS = ("example.com", "example.net", "example.org", "example.cn")
CUSTOMER_CHUNK = 200_000


def write_population(folder: Path, customers: int, orders: int, seed: int = 0,
                     today: date = TODAY) -> tuple[Path, Path]:
    """Write `customers.csv` and `orders.csv` (exactly `orders` rows) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    people = _People(rng, customers, today)
    customers_csv = folder / "customers.csv"
    orders_csv = folder / "orders.csv"
    _write_customers(rng, customers_csv, customers, today)
    _write_orders(rng, orders_csv, people, orders, today)
    return customers_csv, orders_csv


class _People:
    """Per-customer behaviour, as arrays indexed by customer number."""

    def __init__(self, rng: np.random.Generator, n: int, today: date) -> None:
        first_day = _day(today) - YEARS * 365
        last_day = _day(today)
        self.rate = rng.lognormal(np.log(6), 1.1, n)  # orders a year while active
        self.value = rng.lognormal(np.log(800), 1.0, n)  # typical order value
        whales = rng.random(n) < WHALES
        self.value[whales] *= 20 * (1 + rng.pareto(1.5, whales.sum()))
        self.rate[whales] *= 3
        old = rng.random(n) < 0.4  # customers since before the period
        self.start = np.where(old, first_day, rng.integers(first_day, last_day - 30, n))
        churned = rng.random(n) < CHURNERS
        stop = last_day - rng.integers(365, 3 * 365, n)
        self.stop = np.where(churned, np.maximum(stop, self.start + 60), last_day)
        self.margin = np.clip(rng.normal(0.22, 0.12, n), -0.3, 0.7)
        lines = rng.integers(3, len(PRODUCT_LINES) + 1)  # this population's catalogue: 3 to 8 lines
        self.lines = np.stack([rng.integers(0, lines, n) for _ in range(3)], axis=1)
        self.mix = rng.dirichlet([4.0, 1.5, 0.8], n)  # how each customer spreads over its lines
        partial = (rng.random(n) < PARTIAL_CHURNERS) & (self.lines[:, 0] != self.lines[:, 1])
        self.dropped = np.where(partial, self.lines[:, 1], -1)  # the line they stopped buying
        self.drop_day = last_day - rng.integers(200, 700, n)


def _write_customers(rng: np.random.Generator, path: Path, n: int, today: date) -> None:
    header = True
    for start in range(0, n, CUSTOMER_CHUNK):
        size = min(CUSTOMER_CHUNK, n - start)
        number = np.arange(start, start + size)
        company = rng.random(size) < 0.75
        chinese = rng.random(size) < 0.6
        zh_company = (_pick(rng, CITIES, size) + _pick(rng, TRADES, size) + _pick(rng, SUFFIXES, size))
        en_company = (_pick(rng, EN_NAMES, size) + " " + _pick(rng, EN_TRADES, size) + " Ltd")
        person = _pick(rng, SURNAMES, size) + _pick(rng, GIVEN, size)
        names = np.where(company, np.where(chinese, zh_company, en_company), person)
        locale = rng.choice(len(LOCALES), size, p=LOCALE_WEIGHTS / LOCALE_WEIGHTS.sum())
        birthday = _dates(_day(date(1950, 1, 1)) + rng.integers(0, 50 * 365, size))
        founded = _dates(_day(date(1980, 1, 1)) + rng.integers(0, 44 * 365, size))
        frame = pd.DataFrame({
            "external_id": _ids("C", number, 8),
            "name": names + " " + number.astype(str),
            "kind": np.where(company, "company", "person"),
            "contact_name": np.where(company, _pick(rng, SURNAMES, size) + _pick(rng, GIVEN, size), ""),
            "email": np.char.add(np.char.add("buyer", number.astype(str)), "@") + _pick(rng, DOMAINS, size),
            "locale": np.array([LOCALES[i][0] for i in range(len(LOCALES))])[locale],
            "timezone": np.array([LOCALES[i][1] for i in range(len(LOCALES))])[locale],
            "industry": np.where(company, rng.choice(np.array(INDUSTRIES), size,
                                                     p=INDUSTRY_WEIGHTS / INDUSTRY_WEIGHTS.sum()), ""),
            "birthday": np.where(company | (rng.random(size) < 0.4), "", birthday),
            "founded_on": np.where(company & (rng.random(size) < 0.7), founded, ""),
        })
        frame.to_csv(path, mode="w" if header else "a", header=header, index=False)
        header = False


def _write_orders(rng: np.random.Generator, path: Path, people: _People, total: int, today: date) -> None:
    """Orders month by month: each month's count, then which customers, then when and what."""
    months = pd.period_range(end=pd.Period(today, "M"), periods=YEARS * 12 + 1, freq="M")
    season = _season(today)
    month_starts = [_day(m.start_time.date()) for m in months]
    month_ends = [min(_day(m.end_time.date()) + 1, _day(today)) for m in months]
    weights = [
        people.rate @ _active(people, lo, hi) * season[lo - month_starts[0]: hi - month_starts[0]].sum()
        if hi > lo else 0.0
        for lo, hi in zip(month_starts, month_ends, strict=True)
    ]
    per_month = rng.multinomial(total, np.array(weights) / np.sum(weights))
    written = 0
    for lo, hi, count in zip(month_starts, month_ends, per_month, strict=True):
        if not count or hi <= lo:
            continue
        share = people.rate * _active(people, lo, hi)
        customer = np.repeat(np.arange(len(share)), rng.multinomial(count, share / share.sum()))
        frame = _orders(rng, people, customer, lo, hi, season[lo - month_starts[0]: hi - month_starts[0]])
        frame.insert(0, "external_id", _ids("O", np.arange(written, written + count), 10))
        frame.to_csv(path, mode="w" if written == 0 else "a", header=written == 0, index=False)
        written += count


def _orders(rng: np.random.Generator, people: _People, customer: NDArray[np.int64], lo: int, hi: int,
            season: NDArray[np.float64]) -> pd.DataFrame:
    n = len(customer)
    first = np.maximum(people.start[customer], lo)
    last = np.minimum(people.stop[customer], hi)
    cumulative = np.concatenate([[0.0], np.cumsum(season)])
    u = rng.uniform(cumulative[first - lo], cumulative[last - lo])
    day = lo + np.clip(np.searchsorted(cumulative, u, side="right") - 1, 0, hi - lo - 1)
    seconds = rng.integers(0, 86_400, n)
    when = (np.array(day, dtype="datetime64[D]").astype("datetime64[s]") + seconds.astype("timedelta64[s]"))
    order = np.argsort(when, kind="stable")
    customer, when, day = customer[order], when[order], day[order]
    slot = (rng.random(n)[:, None] > np.cumsum(people.mix[customer], axis=1)).sum(axis=1)
    line = people.lines[customer, np.minimum(slot, 2)]
    stopped = (line == people.dropped[customer]) & (day >= people.drop_day[customer])
    line = np.where(stopped, people.lines[customer, 0], line)
    amount = np.round(np.minimum(people.value[customer] * rng.lognormal(0, 0.6, n), 5e8), 2)
    rate = people.margin[customer] + rng.normal(0, 0.05, n)
    cost = np.round(amount * (1 - rate), 2).clip(min=0)
    known = rng.random(n) >= NO_COST
    return pd.DataFrame({
        "customer_external_id": _ids("C", customer, 8),
        "ordered_at": np.char.replace(np.datetime_as_string(when, unit="s"), "T", " "),
        "amount": np.char.mod("%.2f", amount),
        "product_line": np.array(PRODUCT_LINES)[line],
        "cost": np.where(known, np.char.mod("%.2f", cost), ""),
    })


def _season(today: date) -> NDArray[np.float64]:
    """Relative order intensity per day of the period (index 0 = first day of the first month)."""
    start = (pd.Period(today, "M") - YEARS * 12).start_time.date()
    days = pd.date_range(start, today, freq="D")
    weight = np.ones(len(days))
    weight[days.month >= 10] *= 1.4  # Q4
    for festival in SPRING_FESTIVALS:
        offset = (pd.Timestamp(festival) - days).days.to_numpy()
        weight[(offset > 0) & (offset <= 30)] *= 1.8  # stocking up before the holiday
        weight[(offset <= 0) & (offset > -8)] *= 0.3  # the festival week itself
    return weight


def _active(people: _People, lo: int, hi: int) -> NDArray[np.float64]:
    return ((people.start < hi) & (people.stop > lo)).astype(float)


def _pick(rng: np.random.Generator, words: tuple[str, ...], size: int) -> NDArray[np.str_]:
    return np.array(words)[rng.integers(0, len(words), size)]


def _ids(prefix: str, numbers: NDArray[np.int64], width: int) -> NDArray[np.str_]:
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width))


def _dates(days: NDArray[np.int64]) -> NDArray[np.str_]:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def _day(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--today", type=date.fromisoformat, default=TODAY)
    args = parser.parse_args()
    paths = write_population(args.folder, args.customers, args.orders, args.seed, args.today)
    print(*paths, sep="\n")


if __name__ == "__main__":
    main()

