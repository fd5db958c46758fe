"""How long the engagement report takes on a large store: 100 000 customers, 1 000 000 events.

Generates a SQLite store quickly (numpy, then one executemany per table): customers and
profiles, ~5 planned mails per customer over half a year (8 campaigns, some with variants,
three with a 10% holdout), the events on them (people's and machines' opens, clicks,
unsubscribes) and orders. Then times `edm report engagement` as the CLI builds it (SQL
aggregates, uplift, charts, one HTML file), all time and for the last 90 days.

    python bench/report.py /tmp/report-bench --customers 100000 --events 1000000
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from edm.config import ReportSettings
from edm.reports import engagement_report, write_report
from edm.store import create_schema, make_engine, session_factory

START = datetime(2025, 9, 1, tzinfo=UTC)
DAYS = 180
CAMPAIGNS = ["welcome", "newsletter", "re_engagement", "win_back", "birthday", "spring_festival",
             "year_end", "product_news"]
WITH_VARIANTS = {"newsletter", "product_news"}
WITH_HOLDOUT = {"re_engagement", "win_back", "newsletter"}
TIERS, STAGES = ["high", "medium", "low"], ["new", "growing", "mature", "at_risk", "churned", "reacquired"]
INDUSTRIES = ["manufacturing", "services", "trade", "other"]


def stamp(seconds: np.ndarray) -> list[str]:
    """Seconds after START as SQLAlchemy's SQLite DATETIME text (UTC)."""
    base = np.datetime64(START.replace(tzinfo=None), "us")
    moments = base + (seconds * 1_000_000).astype("timedelta64[us]")
    return [str(m).replace("T", " ") + ("" if "." in str(m) else ".000000") for m in moments]


def populate(path: Path, customers: int, events: int, seed: int = 1,
             orders: int | None = None) -> dict[str, int]:
    """A store of `customers`, ~5 mails each, `events` on them and `orders` (2 a customer unless given)."""
    rng = np.random.default_rng(seed)
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    db = sqlite3.connect(path)
    ids = np.arange(1, customers + 1)
    created = stamp(np.zeros(customers))
    db.executemany(
        "INSERT INTO customers (id, external_id, name, email, email_key, kind, locale, timezone, industry,"
        " created_at) VALUES (?, ?, ?, ?, ?, 'company', ?, 'Asia/Shanghai', ?, ?)",
        ((int(i), f"c{i}", f"Company {i}", f"c{i}@example.com", f"c{i}@example.com", loc, ind, created[0])
         for i, loc, ind in zip(ids, rng.choice(["zh", "en"], customers, p=[0.7, 0.3]),
                                rng.choice(INDUSTRIES, customers), strict=True)),
    )
    tiers = rng.choice(TIERS, customers, p=[0.2, 0.35, 0.45])
    stages = rng.choice(STAGES, customers)
    industries = rng.choice(INDUSTRIES, customers)
    db.executemany(
        "INSERT INTO customer_profiles (customer_id, value_tier, lifecycle_stage, industry, order_count,"
        " revenue, computed_at, contact_interval_days, engagement_score, scale, purchase_frequency, loyalty,"
        " relationship_stage, churn_kind, profit_profile, order_days, annual_revenue, orders_per_year,"
        " recent_orders_per_year) VALUES (?, ?, ?, ?, 1, 100, ?, ?, ?, 'small', 'low', 'general',"
        " 'gestation', 'none', 'not_key', 1, 100, 1, 1)",
        ((int(i), t, s, ind, created[0], float(iv), float(sc)) for i, t, s, ind, iv, sc in zip(
            ids, tiers, stages, industries, rng.uniform(3, 90, customers), rng.normal(2, 3, customers),
            strict=True)),
    )
    mails = customers * 5
    who = rng.integers(1, customers + 1, mails)
    campaign = rng.choice(CAMPAIGNS, mails)
    planned = rng.uniform(0, DAYS * 86400, mails)
    planned_text = stamp(planned)
    roll = rng.random(mails)
    holdout = np.isin(campaign, list(WITH_HOLDOUT)) & (roll < 0.10)
    state = np.where(holdout, "held_out",
                     np.where(roll < 0.13, "bounced", np.where(roll < 0.15, "deferred", "sent")))
    sent_text = stamp(planned + rng.uniform(0, 3600, mails))
    variant = np.where(np.isin(campaign, list(WITH_VARIANTS)) & ~holdout, rng.choice(["A", "B"], mails), None)
    db.executemany(
        "INSERT INTO outbox (id, key, campaign, step, customer_id, occurrence, to_address, state, variant,"
        " attempts, next_attempt_at, created_at, sent_at)"
        " VALUES (?, ?, ?, 0, ?, '2025-09-01', ?, ?, ?, 1, ?, ?, ?)",
        ((n + 1, f"k{n}", c, int(w), f"c{w}@example.com", s, v, p, p, t if s == "sent" else None)
         for n, (c, w, s, v, p, t) in enumerate(zip(campaign, who, state, variant, planned_text, sent_text,
                                                     strict=True))),
    )
    sent_ids = np.flatnonzero(state == "sent")
    target = rng.choice(sent_ids, events)
    kind = rng.choice(["open", "click", "unsubscribe"], events, p=[0.75, 0.23, 0.02])
    machine = (kind == "open") & (rng.random(events) < 0.15)
    when = stamp(planned[target] + rng.uniform(3600, 5 * 86400, events))
    db.executemany(
        "INSERT INTO events (kind, customer_id, outbox_id, occurred_at, machine) VALUES (?, ?, ?, ?, ?)",
        ((k, int(who[t]), int(t) + 1, w, bool(m))
         for k, t, w, m in zip(kind, target, when, machine, strict=True)),
    )
    orders = customers * 2 if orders is None else orders
    buyer = rng.integers(1, customers + 1, orders)
    ordered = stamp(rng.uniform(0, (DAYS + 30) * 86400, orders))
    amount = np.round(rng.lognormal(5, 1, orders), 2)
    db.executemany(
        "INSERT INTO orders (external_id, customer_id, ordered_at, amount) VALUES (?, ?, ?, ?)",
        ((f"o{n}", int(b), o, float(a))
         for n, (b, o, a) in enumerate(zip(buyer, ordered, amount, strict=True))),
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return {"customers": customers, "outbox": mails, "events": events, "orders": orders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    path = args.folder / "report-bench.db"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    sizes = populate(path, args.customers, args.events)
    print(f"generated {sizes} in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
    sessions = session_factory(make_engine(f"sqlite:///{path}"))
    now = START + timedelta(days=DAYS + 30)
    windows = {"all time": {}, "last 90 days": {"since": now - timedelta(days=90), "until": now}}
    for label, window in windows.items():
        started = time.perf_counter()
        report = engagement_report(sessions, [["campaign"], ["tier", "stage"]], now=now,
                                   settings=ReportSettings(), **window)
        built = time.perf_counter() - started
        [out] = write_report(report, args.folder / f"engagement-{label.replace(' ', '-')}.html", "html")
        total = time.perf_counter() - started
        print(f"engagement report, {label}: built in {built:.2f} s (SQL, uplift, charts), "
              f"with the HTML written {total:.2f} s; {report.figures['sent']} sent, "
              f"{report.figures['orders']} orders attributed -> {out}")


if __name__ == "__main__":
    main()
