"""How fast `edm import orders` is, against a raw sqlite3 `executemany` of the same rows.

    python bench/import_speed.py [--orders 1000000] [--customers N] [--chunk-rows 100000]

Generates a population (bench/population.py) in a temporary folder, imports its
customers, then measures, each in a fresh process (so peak RSS is the step's own):

  import     edm's CSV -> SQLite order import, end to end (read, check, upsert)
  re-import  the same file again (every row unchanged)
  raw        the rows exactly as the import stored them, in file order, inserted with
             one sqlite3 `executemany` into a fresh database with the same schema and
             indexes (the goal: import >= 0.5 x raw)
  raw, clustered   the same, rows ordered by customer within each chunk as the
             importer writes them: shows how much of the speed is write order

Never part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from population import TODAY, write_population

from edm.clock import FixedClock
from edm.config import ImportSettings
from edm.customers.importer import import_customers, import_orders
from edm.store import create_schema, make_engine, session_factory

ORDER_COLUMNS = ("external_id", "customer_id", "ordered_at", "amount", "margin", "product_line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, help="default: orders / 10")
    parser.add_argument("--chunk-rows", type=int, default=ImportSettings().chunk_rows)
    parser.add_argument("--dir", type=Path, help="keep the files here instead of a temporary folder")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](json.loads(args.args))))
        return
    customers = args.customers or max(args.orders // 10, 1)
    if args.dir:
        run(args.dir, customers, args.orders, args.chunk_rows)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(Path(folder), customers, args.orders, args.chunk_rows)


def run(folder: Path, customers: int, orders: int, chunk_rows: int) -> None:
    started = time.perf_counter()
    customers_csv, orders_csv = write_population(folder, customers, orders, today=TODAY)
    print(f"population: {customers:,} customers, {orders:,} orders "
          f"({orders_csv.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s")
    db = folder / "edm.db"
    common = {"db": str(db), "chunk_rows": chunk_rows}
    loaded = _step("customers", {**common, "csv": str(customers_csv)})
    print(f"customers import: {loaded['rows']:,} rows in {loaded['seconds']:.1f} s")
    first = _step("orders", {**common, "csv": str(orders_csv)})
    again = _step("orders", {**common, "csv": str(orders_csv)})
    raw = _step("raw", {**common, "target": str(folder / "raw.db"), "cluster": 0})
    clustered = _step("raw", {**common, "target": str(folder / "raw-clustered.db"), "cluster": chunk_rows})
    rows = [("import (CSV -> SQLite)", first), ("re-import (all unchanged)", again),
            ("raw executemany", raw), ("raw executemany, clustered", clustered)]
    print(f"\n{'':28}{'rows/s':>12}{'seconds':>10}{'peak RSS MB':>13}")
    for name, step in rows:
        print(f"{name:28}{step['rows'] / step['seconds']:>12,.0f}{step['seconds']:>10.1f}"
              f"{step['max_rss_kb'] / 1024:>13,.0f}")
    ratio = (first["rows"] / first["seconds"]) / (raw["rows"] / raw["seconds"])
    same_order = (first["rows"] / first["seconds"]) / (clustered["rows"] / clustered["seconds"])
    print(f"\nimport / raw = {ratio:.2f} (goal >= 0.5); import / raw clustered = {same_order:.2f}")
    print(f"import result: {first['result']}\nre-import result: {again['result']}")


def _step(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run one step in a fresh interpreter: its own peak RSS, no caches carried over."""
    command = [sys.executable, __file__, "--step", name, "--args", json.dumps(arguments)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _import_customers(arguments: dict[str, Any]) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{arguments['db']}")
    create_schema(engine)
    settings = ImportSettings(chunk_rows=arguments["chunk_rows"])
    clock = FixedClock(datetime.combine(TODAY, datetime.min.time(), UTC))
    started = time.perf_counter()
    result = import_customers(session_factory(engine), Path(arguments["csv"]), clock, settings=settings)
    return _measured(result.rows, started, repr(result))


def _import_orders(arguments: dict[str, Any]) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{arguments['db']}")
    settings = ImportSettings(chunk_rows=arguments["chunk_rows"])
    started = time.perf_counter()
    result = import_orders(session_factory(engine), Path(arguments["csv"]), settings=settings)
    return _measured(result.rows, started, repr(result))


def _raw_executemany(arguments: dict[str, Any]) -> dict[str, Any]:
    """The rows as the import stored them, in file order, into a fresh copy of the schema."""
    columns = ", ".join(ORDER_COLUMNS)
    with sqlite3.connect(arguments["db"]) as source:
        rows = source.execute(f"SELECT {columns} FROM orders ORDER BY external_id").fetchall()
    chunk = arguments["cluster"]
    if chunk:
        rows = [row for start in range(0, len(rows), chunk)
                for row in sorted(rows[start : start + chunk], key=lambda r: r[1])]
    engine = make_engine(f"sqlite:///{arguments['target']}")
    create_schema(engine)  # the same tables and indexes, WAL like the store
    engine.dispose()
    target = sqlite3.connect(arguments["target"])
    statement = f"INSERT INTO orders ({columns}) VALUES ({', '.join('?' for _ in ORDER_COLUMNS)})"
    started = time.perf_counter()
    target.executemany(statement, rows)
    target.commit()
    measured = _measured(len(rows), started, "")
    target.close()
    return measured


def _measured(rows: int, started: float, result: str) -> dict[str, Any]:
    return {"rows": rows, "seconds": time.perf_counter() - started, "result": result,
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


STEPS = {"customers": _import_customers, "orders": _import_orders, "raw": _raw_executemany}

if __name__ == "__main__":
    main()
