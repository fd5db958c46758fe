"""Benchmark: import a synthetic population from CSV into SQLite, then classify it from the store.

    python bench/classify.py                      # 100k customers / 1M orders, then 1M / 10M
    python bench/classify.py --sizes 20000:200000 # quicker
    python bench/classify.py --keep /tmp/edm-bench  # keep (and reuse) each size's database

For each size it prints the CSV import rate, the classification time (read the store,
compute figures, fit the churn model, classify, write profiles) and that phase's peak RSS,
measured in a fresh process so the import's memory does not count, with its CPU seconds
and the load average (other work on the machine slows the wall clock, not the CPU time).
Goals on a 2-core machine (issue 24): at 1M customers / 10M orders, classification in <= 10 s
with peak RSS <= 1.5 GB (judged on the recompute a day later, the daily run: P(alive) ages with
the clock, so nearly every buyer's profile is written), and a recompute where nothing changed
in <= 5 s writing no profile row (counted by a trigger during that run only); the time per
order roughly constant from one size to the next (linear cost). A recompute where nothing
changed keeps the profiles without reading the orders (edm.store.changes); the same recompute
forced with `full=True` (`edm classify --full`) is timed too, for comparison, not judged; so is a
recompute two days on after 30 000 orders were added (a day's imports: the orders' snapshot takes
them in, edm.store.snapshot), which are deleted again afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from population import write_population

from edm.clock import FixedClock
from edm.config import ClassificationSettings
from edm.customers import import_customers, import_orders, recompute_profiles
from edm.store import create_schema, make_engine, session_factory

GOAL_SECONDS = 10.0  # issue 24: 1M customers / 10M orders
GOAL_GB = 1.5  # decimal gigabytes, the unit: 1.5e9 bytes (about 1.40 GiB)
UNCHANGED_GOAL_SECONDS = 5.0  # and no profile row written
GOAL_SIZE = (1_000_000, 10_000_000)
JUDGED = "recompute (nothing changed)"
FORCED = "recompute (nothing changed, --full)"
LATER = "recompute a day later"
BUSY_DAY = "recompute a day later, with a day's new orders"
NEW_ORDERS = 30_000  # a day's orders at 10 M over about a year, added before BUSY_DAY and removed after it
TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


Measured = tuple[float, float, float, int]  # seconds, CPU seconds, peak RSS (MiB), customers moved


def classify_phase(url: str, days_later: int, full: bool, results: multiprocessing.Queue[Measured]) -> None:
    """Runs in a fresh process: classify everything, report what `Measured` holds."""
    sessions = session_factory(make_engine(url))
    clock = FixedClock(NOW + timedelta(days=days_later))
    started, cpu = time.perf_counter(), _cpu_seconds()
    summary = recompute_profiles(sessions, ClassificationSettings(), clock, full=full)
    elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put((elapsed, cpu, peak_mib, summary.customers_moved))


def _cpu_seconds() -> float:
    """This process's CPU time and its finished children's (the store is read in a child)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


Judged = tuple[float, float, float, int]  # the day later: seconds, peak MiB; nothing changed: seconds, rows


def run(customers: int, orders: int, folder: Path) -> Judged:
    """Classify the size's store in fresh processes; what the goals judge."""
    url = f"sqlite:///{folder / 'bench.db'}"
    first = "first classification"
    if (folder / "bench.db").exists():
        print(f"\n{customers:,} customers / {orders:,} orders: reusing {folder / 'bench.db'}")
        first = "recompute"
    else:
        populate(customers, orders, folder, url)
    context = multiprocessing.get_context("spawn")
    judged = {}
    for label, days_later in ((first, 0), (JUDGED, 0), (FORCED, 0), (LATER, 1), (BUSY_DAY, 2)):
        if label == JUDGED:
            count_profile_writes(folder / "bench.db", on=True)
        if label == BUSY_DAY:
            add_orders(folder / "bench.db", NEW_ORDERS, NOW + timedelta(days=1))
        results: multiprocessing.Queue[Measured] = context.Queue()
        process = context.Process(target=classify_phase, args=(url, days_later, label == FORCED, results))
        process.start()
        seconds, cpu, peak_mib, moved = results.get()
        process.join()
        print(f"  classify, {label}: {seconds:.1f} s (CPU {cpu:.1f} s, load {os.getloadavg()[0]:.1f}), "
              f"peak RSS {peak_mib:,.0f} MiB, {seconds / orders * 1e6:.2f} s per million orders, "
              f"{moved:,} moved")
        judged[label] = (seconds, peak_mib)
        if label == BUSY_DAY:
            remove_added_orders(folder / "bench.db")
        if label == JUDGED:
            written = count_profile_writes(folder / "bench.db", on=False)
            print(f"    profile rows written: {written:,}")
    return (*judged[LATER], judged[JUDGED][0], written)


def add_orders(path: Path, count: int, at: datetime) -> None:
    """`count` new orders of random customers, as a day's import adds them (not judged: for scale)."""
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.000000")
    with sqlite3.connect(path) as db:
        (customers,) = db.execute("SELECT MAX(id) FROM customers").fetchone()
        rng = np.random.default_rng(24)
        db.executemany("INSERT INTO orders (external_id, customer_id, ordered_at, amount, product_line) "
                       "VALUES (?, ?, ?, ?, 'bench')",
                       ((f"bench-new-{n}", int(c), stamp, 100.0)
                        for n, c in enumerate(rng.integers(1, customers + 1, count))))


def remove_added_orders(path: Path) -> None:
    """The orders `add_orders` added, gone again: the next run starts from the same store (and reads
    every order afresh, a deletion ending the orders' snapshot)."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM orders WHERE external_id LIKE 'bench-new-%'")


def count_profile_writes(path: Path, *, on: bool) -> int:
    """Start counting the rows written to customer_profiles (a trigger), or stop and say how many."""
    with sqlite3.connect(path) as db:
        if on:
            db.execute("CREATE TABLE IF NOT EXISTS bench_profile_writes (n INTEGER)")
            db.execute("DELETE FROM bench_profile_writes")
            db.execute("INSERT INTO bench_profile_writes VALUES (0)")
            for event in ("INSERT", "UPDATE"):
                db.execute(f"CREATE TRIGGER IF NOT EXISTS bench_count_{event.lower()} AFTER {event} ON "
                           "customer_profiles BEGIN UPDATE bench_profile_writes SET n = n + 1; END")
            return 0
        for event in ("insert", "update"):
            db.execute(f"DROP TRIGGER IF EXISTS bench_count_{event}")
        (written,) = db.execute("SELECT n FROM bench_profile_writes").fetchone()
        return int(written)


def populate(customers: int, orders: int, folder: Path, url: str) -> None:
    started = time.perf_counter()
    customers_csv, orders_csv = write_population(folder, customers=customers, orders=orders, today=TODAY)
    generated = time.perf_counter() - started
    print(f"\n{customers:,} customers / {orders:,} orders: generated in {generated:.1f} s")
    engine = make_engine(url)
    create_schema(engine)
    sessions = session_factory(engine)
    started = time.perf_counter()
    import_customers(sessions, customers_csv, FixedClock(NOW))
    customer_seconds = time.perf_counter() - started
    started = time.perf_counter()
    import_orders(sessions, orders_csv)
    order_seconds = time.perf_counter() - started
    engine.dispose()
    print(f"  import: customers {customers / customer_seconds:,.0f} rows/s, "
          f"orders {orders / order_seconds:,.0f} rows/s ({order_seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="keep each size's files in a folder here, and reuse them")
    parser.add_argument("--sizes", nargs="+", default=["100000:1000000", "1000000:10000000"],
                        help="customers:orders pairs, smallest first")
    args = parser.parse_args()
    timings = []
    sizes = []
    for size in args.sizes:
        customers, orders = (int(n) for n in size.split(":"))
        if args.keep:
            folder = args.keep / f"{customers}-{orders}"
            folder.mkdir(parents=True, exist_ok=True)
            judged = run(customers, orders, folder)
        else:
            with tempfile.TemporaryDirectory(prefix="edm-bench-") as temporary:
                judged = run(customers, orders, Path(temporary))
        timings.append((orders, *judged))
        sizes.append((customers, orders))
    if len(timings) > 1:
        (small, small_s, *_), (large, large_s, *_) = timings[0], timings[-1]
        print(f"\nlinearity: {large / small:.0f}x the orders took {large_s / small_s:.1f}x the time "
              f"(1.0 = perfectly linear per order: {large_s / large / (small_s / small):.2f})")
    goal = (f"goal at 1M customers / 10M orders: {LATER} <= {GOAL_SECONDS:.0f} s and <= {GOAL_GB} GB; "
            f"{JUDGED} <= {UNCHANGED_GOAL_SECONDS:.0f} s, no profile row written")
    if GOAL_SIZE not in sizes:
        print(f"\n{goal}: not judged, that size was not run")
        return
    _, seconds, peak, unchanged, written = timings[sizes.index(GOAL_SIZE)]
    peak_gb = peak * 2**20 / 1e9
    daily = seconds <= GOAL_SECONDS and peak_gb <= GOAL_GB
    quiet = unchanged <= UNCHANGED_GOAL_SECONDS and written == 0
    print(f"\n{goal}:\n  {LATER}: {seconds:.1f} s, {peak_gb:.2f} GB ({peak / 1024:.2f} GiB): "
          f"{'met' if daily else 'NOT MET'}"
          f"\n  {JUDGED}: {unchanged:.1f} s, {written:,} rows written: {'met' if quiet else 'NOT MET'}")


if __name__ == "__main__":
    main()
