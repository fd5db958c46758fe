"""Benchmark: import a synthetic population from CSV into SQLite, then classify it from the store.

    python bench/classify.py                      # 100k customers / 1M orders, then 1M / 10M
    python bench/classify.py --sizes 20000:200000 # quicker
    python bench/classify.py --keep /tmp/edm-bench  # keep (and reuse) each size's database

For each size it prints the CSV import rate, the classification time (read the store,
compute figures, fit the churn model, classify, write profiles) and that phase's peak RSS,
measured in a fresh process so the import's memory does not count. Goals on a 2-core
machine: 1M customers / 10M orders classified in <= 30 s with peak RSS <= 3 GB, and the
time per order roughly constant from one size to the next (linear cost).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from population import write_population

from edm.clock import FixedClock
from edm.config import ClassificationSettings
from edm.customers import import_customers, import_orders, recompute_profiles
from edm.store import create_schema, make_engine, session_factory

GOAL_SECONDS = 30.0  # issue 9, kept by issue 17: 1M customers / 10M orders
GOAL_GIB = 3.0
TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def classify_phase(url: str, results: multiprocessing.Queue[tuple[float, float, int]]) -> None:
    """Runs in a fresh process: classify everything, report seconds, peak RSS (MiB), moved."""
    sessions = session_factory(make_engine(url))
    started = time.perf_counter()
    summary = recompute_profiles(sessions, ClassificationSettings(), FixedClock(NOW))
    elapsed = time.perf_counter() - started
    results.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, summary.customers_moved))


def run(customers: int, orders: int, folder: Path) -> tuple[float, float]:
    url = f"sqlite:///{folder / 'bench.db'}"
    labels = ("first classification", "recompute (nothing changed)")
    if (folder / "bench.db").exists():
        print(f"\n{customers:,} customers / {orders:,} orders: reusing {folder / 'bench.db'}")
        labels = ("recompute", "recompute (nothing changed)")
    else:
        populate(customers, orders, folder, url)
    context = multiprocessing.get_context("spawn")
    for label in labels:
        results: multiprocessing.Queue[tuple[float, float, int]] = context.Queue()
        process = context.Process(target=classify_phase, args=(url, results))
        process.start()
        seconds, peak_mib, moved = results.get()
        process.join()
        print(f"  classify, {label}: {seconds:.1f} s, peak RSS {peak_mib:,.0f} MiB, "
              f"{seconds / orders * 1e6:.2f} s per million orders, {moved:,} moved")
    return seconds, peak_mib


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
    for size in args.sizes:
        customers, orders = (int(n) for n in size.split(":"))
        if args.keep:
            folder = args.keep / f"{customers}-{orders}"
            folder.mkdir(parents=True, exist_ok=True)
            seconds, peak = run(customers, orders, folder)
        else:
            with tempfile.TemporaryDirectory(prefix="edm-bench-") as temporary:
                seconds, peak = run(customers, orders, Path(temporary))
        timings.append((orders, seconds, peak))
    if len(timings) > 1:
        (small, small_s, _), (large, large_s, peak) = timings[0], timings[-1]
        print(f"\nlinearity: {large / small:.0f}x the orders took {large_s / small_s:.1f}x the time "
              f"(1.0 = perfectly linear per order: {large_s / large / (small_s / small):.2f})")
        met = large_s <= GOAL_SECONDS and peak / 1024 <= GOAL_GIB
        print(f"goal at the largest size: <= {GOAL_SECONDS:.0f} s and <= {GOAL_GIB:.0f} GB: {large_s:.1f} s, "
              f"{peak / 1024:.2f} GiB: {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
