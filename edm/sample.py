"""Bundled sample data for `edm demo`: customers and three years of orders, as CSV.

Deterministic (a seeded `random.Random`, no external data, no network) and dated
relative to `today`, so every run of the demo finds every lifecycle stage: prospects,
new, growing, steady, at risk, churned and reacquired customers. Each is built for the
rules that judge every customer by their own rhythm (docs/classes.md): the at-risk are
silent for well over twice their own interval, and beside them are the kinds only such
rules tell apart: annual buyers on time though silent for months, buyers whose pace fell
though not yet late, one-time buyers, and customers who came back from a lapse long ago.
Revenue is skewed (lognormal per-customer spend, companies larger than persons) so the top
fifth of customers make most of it, as in the handbooks' 80/20 rule.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from edm.errors import EdmError
from edm.render import resolve_language

CUSTOMER_COLUMNS = (
    "external_id",
    "name",
    "kind",
    "contact_name",
    "email",
    "locale",
    "timezone",
    "industry",
    "birthday",
    "founded_on",
    "account_manager",
    "account_manager_email",
    "tags",
)
# Companies are looked after by a small sales team, by language (name, address).
ACCOUNT_MANAGERS = {
    "zh-Hans": (("李雷", "li.lei@example.com"), ("韩梅梅", "han.meimei@example.com")),
    "zh-Hant": (("陳美玲", "chen.meiling@example.com"), ("王志明", "wang.zhiming@example.com")),
    "en": (("Sarah Collins", "sarah.collins@example.com"), ("Tom Baker", "tom.baker@example.com")),
}
ORDER_COLUMNS = ("external_id", "customer_external_id", "ordered_at", "amount", "product_line")
PRODUCT_LINES = ("valves", "pumps", "sensors", "fittings", "maintenance")
HISTORY_DAYS = 3 * 365  # no order is older than this many days before `today`

# Segment name -> share of customers. The order fixes how remainders are handed out.
SEGMENTS: dict[str, float] = {
    "steady": 0.24,  # years of regular orders, up to today: mature
    "growing": 0.12,  # started 3-12 months ago, still ordering
    "at_risk": 0.11,  # regular buyers silent for 2.5-3.5 times their own interval
    "churned": 0.11,  # silent for more than a year
    "new": 0.08,  # first order within 90 days
    "prospect": 0.05,  # no orders
    "reacquired": 0.05,  # back within 60 days after a lapse of over 400 days
    "annual": 0.06,  # about once a year for three years, last order 100-300 days ago: on time
    "falling_pace": 0.06,  # every 15-40 days for years, then one order day in 180: at risk by pace
    "one_time": 0.07,  # a single order 150-1000 days ago
    "old_reacquired": 0.05,  # back from a lapse of 400+ days over a year ago, regular since
}
# The lifecycle stage each segment is built to land in (`lifecycle_stage` of its profile).
INTENDED_STAGES: dict[str, tuple[str, ...]] = {
    "steady": ("mature",),
    "growing": ("growing",),
    "at_risk": ("at_risk",),
    "churned": ("churned",),
    "new": ("new",),
    "prospect": ("prospect",),
    "reacquired": ("reacquired",),
    "annual": ("mature",),
    "falling_pace": ("at_risk",),
    "one_time": ("at_risk", "churned"),  # by how long ago their one order was
    "old_reacquired": ("mature",),
}

# locale -> (share, time zones)
_LOCALES: dict[str, tuple[float, tuple[str, ...]]] = {
    "zh-CN": (0.36, ("Asia/Shanghai",)),
    "zh-TW": (0.08, ("Asia/Taipei",)),
    "zh-HK": (0.06, ("Asia/Hong_Kong",)),
    "en-US": (0.22, ("America/New_York", "America/Chicago", "America/Los_Angeles")),
    "en-GB": (0.12, ("Europe/London",)),
    "en-SG": (0.08, ("Asia/Singapore",)),
    "en-AU": (0.08, ("Australia/Sydney", "Australia/Melbourne", "Australia/Perth")),
}
_DOMAINS = ("example.com", "example.net", "example.org")
_INDUSTRIES = ("manufacturing", "services", "trade", "other")
_INDUSTRY_WEIGHTS = (45, 20, 25, 10)
_ROLES = ("orders", "purchasing", "procurement", "info", "accounts")


def _words(text: str) -> tuple[str, ...]:
    """Word lists written as one string, to keep the data below compact."""
    return tuple(text.split())


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Parse "王:wang 李:li" into (("王", "wang"), ("李", "li"))."""
    return tuple((hanzi, ascii_) for hanzi, ascii_ in (item.split(":") for item in text.split()))


# (hanzi, pinyin) pairs; the pinyin makes ASCII email local parts.
_ZH_SURNAMES = _pairs(
    "王:wang 李:li 张:zhang 刘:liu 陈:chen 杨:yang 黄:huang 赵:zhao 吴:wu 周:zhou 徐:xu "
    "孙:sun 马:ma 朱:zhu 胡:hu 郭:guo 何:he 林:lin 高:gao 罗:luo 郑:zheng 梁:liang"
)
_ZH_GIVEN = _pairs(
    "芳:fang 伟:wei 静:jing 敏:min 磊:lei 洋:yang 丽娟:lijuan 建国:jianguo 海燕:haiyan "
    "志强:zhiqiang 秀英:xiuying 晓明:xiaoming 欣怡:xinyi 子涵:zihan 浩然:haoran 雪梅:xuemei "
    "国华:guohua 嘉怡:jiayi 文杰:wenjie 美玲:meiling 家豪:jiahao 慧敏:huimin"
)
_ZH_CITIES = {
    "zh-CN": _words("宁波 苏州 温州 东莞 佛山 无锡 青岛 天津 成都 杭州 厦门"),
    "zh-TW": _words("台北 新竹 台中 高雄 桃园"),
    "zh-HK": _words("香港"),
}
_ZH_BRANDS = _words("恒达 鑫源 华通 永盛 金泰 瑞丰 宏远 中联 东方 德隆 天成 博新 信诚 利群")
_ZH_TRADES = _words("阀门 泵业 流体设备 机电 仪表 管件 五金 自动化 环保科技 贸易")
_ZH_SUFFIXES = {
    "zh-CN": ("有限公司", "有限公司", "股份有限公司"),
    "zh-TW": ("股份有限公司", "有限公司"),
    "zh-HK": ("有限公司",),
}
# Simplified -> traditional for the characters above, for Taiwan and Hong Kong names.
_TRADITIONAL = str.maketrans(
    "达华丰远联东诚阀门业体设备机电仪动环贸张刘陈杨黄赵吴孙马罗郑伟静丽国强晓杰园",
    "達華豐遠聯東誠閥門業體設備機電儀動環貿張劉陳楊黃趙吳孫馬羅鄭偉靜麗國強曉傑園",
)

_EN_FIRST = _words(
    "Emily James Olivia Michael Sophie Daniel Grace Thomas Chloe Benjamin Hannah Ryan Jessica "
    "Lucas Amelia Nathan Priya Arjun Rachel Samuel Isabel Marcus"
)
_EN_SURNAMES = _words(
    "Carter Smith Johnson Brown Taylor Wilson Evans Walker Hughes Patel Nguyen Tan Lim Murphy "
    "Bennett Reid Foster Hayes Clarke Morgan Shah Cooper"
)
_EN_WORDS = _words(
    "Harbor Summit Northgate Bluewater Ironbridge Redwood Keystone Pioneer Crestline Silverline "
    "Granite Meridian Beacon Eastfield"
)
_EN_TRADES = _words("Valve Pump Flow Fluid Sensor Pipe Controls Hydraulic Instrument")
_EN_KINDS = _words("Supply Systems Industries Engineering Solutions Trading Services")
_EN_SUFFIXES = {
    "en-US": ("Inc", "LLC", "Corp"),
    "en-GB": ("Ltd", "Ltd", "plc"),
    "en-SG": ("Pte Ltd",),
    "en-AU": ("Pty Ltd",),
}


@dataclass(frozen=True)
class SampleFiles:
    """Where `write_sample_data` put the two files the importer reads."""

    customers_csv: Path
    orders_csv: Path


@dataclass(frozen=True)
class SampleCustomer:
    """One customers.csv row, plus the behaviour segment it was generated for."""

    external_id: str
    name: str
    kind: str
    contact_name: str | None
    email: str
    locale: str
    timezone: str
    industry: str | None
    birthday: date | None
    founded_on: date | None
    segment: str
    account_manager: tuple[str, str] | None = None  # (name, email), companies only
    tags: str = ""  # as a spreadsheet holds them: "vip; expo-2025"


@dataclass(frozen=True)
class SampleOrder:
    """One orders.csv row."""

    external_id: str
    customer_external_id: str
    ordered_at: date  # a day in the history; a moment (datetime, UTC) for orders after the demo's mail
    amount: Decimal
    product_line: str


def segment_counts(customers: int) -> dict[str, int]:
    """Split `customers` over `SEGMENTS` by largest remainder, so the counts add up exactly."""
    raw = {name: share * customers for name, share in SEGMENTS.items()}
    counts = {name: int(value) for name, value in raw.items()}
    by_remainder = sorted(SEGMENTS, key=lambda name: counts[name] - raw[name])
    for name in by_remainder[: customers - sum(counts.values())]:
        counts[name] += 1
    return counts


def generate_sample(
    today: date, *, customers: int = 360, seed: int = 20261124
) -> tuple[list[SampleCustomer], list[SampleOrder]]:
    """Customers and their orders, in memory; the same arguments always give the same data."""
    if customers < 1:
        raise EdmError(
            f"the sample needs at least 1 customer (got {customers}); pass a larger number"
        )
    rng = random.Random(seed)  # noqa: S311 - sample data, not security
    segments = [name for name, count in segment_counts(customers).items() for _ in range(count)]
    rng.shuffle(segments)
    people: list[SampleCustomer] = []
    dated: list[tuple[date, str, Decimal, str]] = []
    taken_names: set[str] = set()
    for number, segment in enumerate(segments, start=1):
        customer = _customer(rng, number, segment, today, taken_names)
        people.append(customer)
        # Each customer's orders come from their own stream, so re-shaping a segment's orders
        # leaves every customer's name, locale and kind as they were.
        own = random.Random(rng.getrandbits(64))  # noqa: S311 - sample data, not security
        for ordered_at, amount, line in _orders(own, customer, today):
            dated.append((ordered_at, customer.external_id, amount, line))
    dated.sort(key=lambda row: (row[0], row[1]))
    orders = [
        SampleOrder(f"O{index:06d}", customer_id, ordered_at, amount, line)
        for index, (ordered_at, customer_id, amount, line) in enumerate(dated, start=1)
    ]
    return people, orders


def write_sample_data(
    folder: Path, today: date, *, customers: int = 360, seed: int = 20261124
) -> SampleFiles:
    """Write customers.csv and orders.csv (UTF-8) into `folder`, creating it if needed."""
    people, orders = generate_sample(today, customers=customers, seed=seed)
    return write_sample(folder, people, orders)


def write_sample(
    folder: Path, people: Sequence[SampleCustomer], orders: Sequence[SampleOrder]
) -> SampleFiles:
    """Write generated customers and orders as customers.csv and orders.csv (UTF-8) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    files = SampleFiles(folder / "customers.csv", folder / "orders.csv")
    _write_csv(files.customers_csv, CUSTOMER_COLUMNS, [_customer_row(c) for c in people])
    write_orders(files.orders_csv, orders)
    return files


def write_orders(path: Path, orders: Sequence[SampleOrder]) -> Path:
    """Orders as an orders.csv that `edm import orders` reads (times in UTC, ISO 8601)."""
    _write_csv(path, ORDER_COLUMNS, [_order_row(o) for o in orders])
    return path


def _write_csv(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _customer_row(c: SampleCustomer) -> list[str]:
    def iso(day: date | None) -> str:
        return day.isoformat() if day else ""

    return [
        c.external_id,
        c.name,
        c.kind,
        c.contact_name or "",
        c.email,
        c.locale,
        c.timezone,
        c.industry or "",
        iso(c.birthday),
        iso(c.founded_on),
        c.account_manager[0] if c.account_manager else "",
        c.account_manager[1] if c.account_manager else "",
        c.tags,
    ]


def _order_row(o: SampleOrder) -> list[str]:
    return [
        o.external_id,
        o.customer_external_id,
        o.ordered_at.isoformat(),
        str(o.amount),
        o.product_line,
    ]


def _customer(
    rng: random.Random, number: int, segment: str, today: date, taken_names: set[str]
) -> SampleCustomer:
    """A company (~60%) or a person, named and located to match a random locale."""
    external_id = f"C{number:04d}"
    tag = external_id.lower()
    locale = rng.choices(list(_LOCALES), weights=[share for share, _ in _LOCALES.values()])[0]
    timezone = rng.choice(_LOCALES[locale][1])
    domain = rng.choice(_DOMAINS)
    person, person_ascii = _person_name(rng, locale)
    if rng.random() < 0.6:
        name = _company_name(rng, locale)
        for _ in range(20):  # a few retries keep company names distinct
            if name not in taken_names:
                break
            name = _company_name(rng, locale)
        taken_names.add(name)
        local = f"{person_ascii}.{tag}" if rng.random() < 0.5 else f"{rng.choice(_ROLES)}.{tag}"
        return SampleCustomer(
            external_id=external_id,
            name=name,
            kind="company",
            contact_name=person,
            email=f"{local}@{domain}",
            locale=locale,
            timezone=timezone,
            industry=rng.choices(_INDUSTRIES, weights=_INDUSTRY_WEIGHTS)[0],
            birthday=None,
            founded_on=_random_day(rng, rng.randint(1985, 2022)),
            segment=segment,
            account_manager=ACCOUNT_MANAGERS[resolve_language(locale, ACCOUNT_MANAGERS)][number % 2],
            tags=_tags(number),
        )
    industry = None
    if rng.random() < 0.6:
        industry = rng.choices(_INDUSTRIES, weights=_INDUSTRY_WEIGHTS)[0]
    return SampleCustomer(
        external_id=external_id,
        name=person,
        kind="person",
        contact_name=None,
        email=f"{person_ascii}.{tag}@{domain}",
        locale=locale,
        timezone=timezone,
        industry=industry,
        birthday=_birthday(rng, today, external_id),
        founded_on=None,
        segment=segment,
    )


def _tags(number: int) -> str:
    """A few tags a sales team would keep, spread without touching the random stream."""
    tags = [tag for every, tag in ((5, "expo-2025"), (7, "distributor")) if number % every == 0]
    return "; ".join(tags)


def _person_name(rng: random.Random, locale: str) -> tuple[str, str]:
    """A display name and its ASCII form for email local parts (`wang.fang`, `emily.carter`)."""
    if locale.startswith("zh"):
        surname, surname_ascii = rng.choice(_ZH_SURNAMES)
        given, given_ascii = rng.choice(_ZH_GIVEN)
        name = surname + given
        return _script(name, locale), f"{surname_ascii}.{given_ascii}"
    first, last = rng.choice(_EN_FIRST), rng.choice(_EN_SURNAMES)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}"


def _company_name(rng: random.Random, locale: str) -> str:
    if locale.startswith("zh"):
        parts = (
            rng.choice(_ZH_CITIES[locale]),
            rng.choice(_ZH_BRANDS),
            rng.choice(_ZH_TRADES),
            rng.choice(_ZH_SUFFIXES[locale]),
        )
        return _script("".join(parts), locale)
    word = rng.choice(_EN_WORDS)
    if locale != "en-US" and word == "Harbor":
        word = "Harbour"
    suffix = rng.choice(_EN_SUFFIXES[locale])
    return f"{word} {rng.choice(_EN_TRADES)} {rng.choice(_EN_KINDS)} {suffix}"


def _script(text: str, locale: str) -> str:
    """Traditional characters for Taiwan and Hong Kong, simplified for the mainland."""
    return text if locale == "zh-CN" else text.translate(_TRADITIONAL)


def _birthday(rng: random.Random, today: date, external_id: str) -> date:
    """A random birthday; every twelfth person's is today, so the demo has birthdays to greet."""
    born = _random_day(rng, today.year - rng.randint(22, 70))
    if sum(map(ord, external_id)) % 12 == 0 and (today.month, today.day) != (2, 29):
        born = born.replace(month=today.month, day=today.day)
    return born


def _random_day(rng: random.Random, year: int) -> date:
    return date(year, 1, 1) + timedelta(days=rng.randint(0, 364))


# How a segment's order values move over its history (the last is 1 + drift / 2 of typical).
_DRIFT = {"growing": 1.2, "at_risk": -0.8, "churned": -0.4, "falling_pace": -0.6}


def _orders(
    rng: random.Random, customer: SampleCustomer, today: date
) -> list[tuple[date, Decimal, str]]:
    """The customer's orders: dates shaped by segment, amounts by size, lines by habit."""
    ages = _segment_ages(rng, customer.segment)
    if not ages:
        return []
    ages.sort(reverse=True)  # oldest first
    company = customer.kind == "company"
    typical = rng.lognormvariate(7.6, 1.1) if company else rng.lognormvariate(5.3, 0.8)
    drift = _DRIFT.get(customer.segment, 0.0)
    lines = rng.sample(PRODUCT_LINES, k=rng.randint(1, 3))
    line_weights = [rng.uniform(0.5, 3.0) for _ in lines]
    # Partial churn: some long-standing buyers stop buying one of their product lines.
    dropped_after = ages[len(ages) // 2] if len(lines) > 1 and rng.random() < 0.25 else None
    span = max(ages[0] - ages[-1], 1)
    orders = []
    for age in ages:
        choices = list(zip(lines, line_weights, strict=True))
        if dropped_after is not None and age < dropped_after:
            choices = choices[1:]
        line = rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]
        progress = (ages[0] - age) / span  # 0 at the first order, 1 at the last
        scale = max(0.3, 1 + drift * (progress - 0.5))
        if line == "maintenance":
            scale *= 0.4
        value = typical * scale * rng.lognormvariate(0, 0.35)
        amount = max(Decimal("5.00"), Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP))
        orders.append((today - timedelta(days=age), amount, line))
    return orders


OLDEST = HISTORY_DAYS - 5  # the first order of a long history, at most


def _segment_ages(rng: random.Random, segment: str) -> list[int]:
    """Order ages (days before today) that the lifecycle classifier will read as `segment`.

    Judged as `edm.customers` judges: a customer's interval is their own mean gap between
    order days (lengthened toward their peers' while they have few); at risk from twice it,
    churned from three times it and 180 days; the pace over the last 180 days against before.
    """
    if segment == "prospect":
        return []
    if segment == "new":  # first order within the last 90 days, the latest within 30
        ages = [rng.randint(3, 85)]
        while ages[-1] > 30:
            ages.append(ages[-1] - rng.randint(10, 30))
        return ages
    if segment == "growing":  # started 3-12 months ago, still ordering
        # at most 100 days apart: with two order days, one gap of over 180 days (three times
        # their peers' interval) would read as a lapse, and the second order as a return
        interval = rng.randint(20, 100)
        last = rng.randint(0, round(interval * 0.7))
        return _regular(rng, last, rng.randint(max(95, last + interval), 360), interval)
    if segment == "steady":  # years of regular orders, up to today
        # at most 90 days apart, so the last 180 days always hold two order days: one alone
        # would be half the pace (2 a year against 4), which reads as a falling pace
        interval = rng.randint(20, 90)
        return _regular(rng, rng.randint(0, round(interval * 0.7)), rng.randint(400, OLDEST), interval)
    if segment == "at_risk":  # a long regular history, then silent for 2.5-3.5 intervals (under 180 days)
        interval = rng.randint(20, 50)
        ages = _regular(rng, 0, rng.randint(540, OLDEST - 180), interval)
        silence = min(179, round(_mean_gap(ages) * rng.uniform(2.5, 3.5)))
        return [age + silence for age in ages]
    if segment == "churned":  # silent for more than a year, and over three times their own interval
        last = rng.randint(400, 1000)
        interval = min(rng.randint(20, 120), last // 6)  # gaps up to 1.6 intervals (see _regular)
        return _regular(rng, last, rng.randint(last, min(OLDEST, last + 700)), interval)
    if segment == "reacquired":  # a gap of over 400 days, then back within the last 60 days
        interval = rng.randint(20, 80)  # the lapse is over three times the gaps before it
        recent = rng.randint(5, 59)
        ages = [recent] + ([rng.randint(0, recent - 1)] if rng.random() < 0.5 else [])
        old_last = recent + rng.randint(410, 600)
        old_first = rng.randint(old_last, min(OLDEST, old_last + 400))
        return ages + _regular(rng, old_last, old_first, interval)
    if segment == "annual":  # three order days about a year apart, the last 100-300 days ago
        last = rng.randint(100, 300)
        middle = last + rng.randint(330, 395)
        return [last, middle, middle + rng.randint(330, min(395, OLDEST - middle))]
    if segment == "falling_pace":  # every 15-40 days for years, then one order day in the last 180
        interval = rng.randint(15, 40)
        before = rng.randint(182, 190)  # the last regular order, just before the 180-day window
        # the one recent order: within 175 days of it (a longer gap would be a lapse and a
        # return) and soon enough that they are not twice their interval late
        recent = rng.randint(before - 175, before - 175 + round(interval * 0.8))
        return [recent, *_regular(rng, before, rng.randint(before + 365, OLDEST), interval)]
    if segment == "one_time":  # one order, 150-1000 days ago
        return [rng.randint(150, 1000)]
    if segment == "old_reacquired":  # a lapse of 400+ days, back 380-480 days ago, regular since
        interval = rng.randint(20, 60)
        back = rng.randint(380, 480)
        old_last = back + rng.randint(400, 470)
        old_first = rng.randint(old_last, min(OLDEST, old_last + 300))
        old = _regular(rng, old_last, old_first, rng.randint(20, 80))
        return _regular(rng, rng.randint(0, round(interval * 0.7)), back, interval) + old
    raise ValueError(f"unknown segment {segment!r}")


def _mean_gap(ages: list[int]) -> float:
    """The mean days between distinct order days (ages in any order); 0 with fewer than two."""
    days = sorted(set(ages))
    return (days[-1] - days[0]) / (len(days) - 1) if len(days) > 1 else 0.0


def _regular(rng: random.Random, last: int, first: int, interval: int) -> list[int]:
    """Ages from `last` back to `first`, about `interval` days apart, jittered by ±30%.

    The gap that reaches `first` may be up to 1.6 intervals, or as short as 0.3.
    """
    ages = [last]
    age = last + round(interval * rng.uniform(0.7, 1.3))
    while age < first:
        ages.append(age)
        age += round(interval * rng.uniform(0.7, 1.3))
    if first > last:
        if len(ages) > 1 and first - ages[-1] < interval * 0.3:
            ages[-1] = first  # avoid two orders a few days apart at the start
        else:
            ages.append(first)
    return ages


# --- Orders after the demo's mail -------------------------------------------------------------
# How likely each segment is to order within 30 days of a mail it did NOT get: the holdout's rate,
# and everyone's base. A buyer every `interval` days orders in a 30-day window with a chance of
# about 30 / interval, so it follows each segment's rhythm above.
ORDER_RATES: dict[str, float] = {
    "steady": 0.55,  # every 20-90 days
    "growing": 0.50,  # every 20-100 days, and buying more
    "old_reacquired": 0.60,  # every 20-60 days since they came back
    "reacquired": 0.30,  # just back after a long lapse: some stay, some drift off again
    "new": 0.25,  # a second order soon after the first is far from certain
    "falling_pace": 0.12,  # one order day in the last 180
    "at_risk": 0.10,  # silent for 2.5-3.5 of their own intervals
    "annual": 0.08,  # about once a year: 30 / 365
    "churned": 0.05,  # silent for over a year; some come back on their own
    "one_time": 0.03,  # one order long ago
    "prospect": 0.02,  # never ordered
}
assert set(ORDER_RATES) == set(SEGMENTS)
# Points added to that rate when a campaign's mail was delivered (the simulated effect of the mail,
# which the uplift report should find again against the holdout). The largest effect of the
# campaigns that mailed a customer counts; campaigns not named here take their kind's.
MAIL_EFFECTS: dict[str, float] = {
    "win_back": 0.10,  # a sincere note and 15% off: the one reason many lapsed buyers come back
    "re_engagement": 0.06,  # "can we help?" and 10% off, to customers slipping away
    "welcome": 0.05,  # the first weeks decide whether a first order becomes a habit
    "reorder_reminder": 0.04,  # a nudge to customers about to reorder anyway
}
KIND_EFFECTS: dict[str, float] = {"marketing": 0.03, "greeting": 0.02, "survey": 0.0, "service": 0.0}
_GOLDEN = (5**0.5 - 1) / 2  # steps of this fraction spread any run of draws evenly over [0, 1)
ORDER_WINDOW_DAYS = 30  # orders are simulated within this many days after the customer's first mail


def mail_effect(campaign: str, kind: str) -> float:
    """The points a delivered mail of `campaign` adds to its recipient's order rate."""
    return MAIL_EFFECTS.get(campaign, KIND_EFFECTS.get(kind, 0.0))


@dataclass(frozen=True)
class Exposure:
    """A customer's place in the demo's campaigns: the mail that counts, when, and its effect."""

    since: datetime  # when that mail was sent (held out: when it was planned for)
    effect: float  # its `mail_effect` (0: held out, or only mail without an effect)
    group: str  # its campaign, "holdout:" + campaign when held out: customers alike draw together


def orders_after_mail(
    people: Sequence[SampleCustomer],
    history: Sequence[SampleOrder],
    exposures: Mapping[str, Exposure],
    start: datetime,
    *,
    days: int = ORDER_WINDOW_DAYS,
    seed: int = 20261124,
) -> list[SampleOrder]:
    """Who orders in the `days` after the mail, when, and for how much: deterministic per customer.

    Every customer orders at most once, with probability `ORDER_RATES[segment]` plus their
    exposure's effect, at a uniformly random moment in the window after `since` (customers in no
    campaign: after `start`). Whether they order is decided by a golden-ratio sequence within
    each group of customers alike (segment and exposure group) rather than by
    independent coin flips: each group's share of buyers is then its stated rate to within one
    customer, so the demo's report finds the effects it was given rather than the luck of groups
    of a few dozen, while its intervals still show how little groups that small can prove.
    The amount is the customer's median order in their history (a person's or company's typical
    one if they have none), times the same ±35% lognormal noise as the history, on their most
    frequent product line.
    """
    amounts: dict[str, list[Decimal]] = {}
    lines: dict[str, Counter[str]] = {}
    for order in history:
        amounts.setdefault(order.customer_external_id, []).append(order.amount)
        lines.setdefault(order.customer_external_id, Counter())[order.product_line] += 1
    placed: list[tuple[datetime, str, Decimal, str]] = []
    offsets: dict[tuple[str, str], float] = {}
    seen: Counter[tuple[str, str]] = Counter()
    for customer in people:
        rng = random.Random(f"{seed}:{customer.external_id}")  # noqa: S311 - sample data, not security
        exposure = exposures.get(customer.external_id, Exposure(start, 0.0, ""))
        group = (customer.segment, exposure.group)
        if group not in offsets:  # each group starts elsewhere, so small groups do not all agree
            offsets[group] = random.Random(f"{seed}:{customer.segment}:{exposure.group}").random()  # noqa: S311
        roll = (offsets[group] + seen[group] * _GOLDEN) % 1.0
        seen[group] += 1
        chance = min(0.95, ORDER_RATES[customer.segment] + exposure.effect)
        when, noise = rng.uniform(0.05, 0.98), rng.lognormvariate(0, 0.35)
        if roll >= chance:
            continue
        own = sorted(amounts.get(customer.external_id, []))
        typical = float(own[len(own) // 2]) if own else (2000.0 if customer.kind == "company" else 200.0)
        habit = lines.get(customer.external_id)
        line = habit.most_common(1)[0][0] if habit else PRODUCT_LINES[0]
        amount = max(Decimal("5.00"), Decimal(typical * noise).quantize(Decimal("0.01"), ROUND_HALF_UP))
        moment = exposure.since + timedelta(days=days * when)
        placed.append((moment.replace(microsecond=0), customer.external_id, amount, line))
    placed.sort(key=lambda row: (row[0], row[1]))
    return [SampleOrder(f"M{index:06d}", customer_id, moment, amount, line)
            for index, (moment, customer_id, amount, line) in enumerate(placed, start=1)]
