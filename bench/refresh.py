"""The engagement refresh and planning at a million customers (issue 24's goals).

On a generated SQLite store (bench/report.py's `populate`: customers and profiles, ~5 mails each
over half a year, events on them, orders), times in one run:
- a full refresh, everyone recomputed: the baseline;
- an incremental refresh five minutes later with nothing new: goal <= 2 s;
- one after 1 000 new events (a busy five minutes of tracking), for scale;
- planning one campaign for everyone (a greeting, so nobody is held for frequency), with the
  refresh before it as `edm campaign run` does: goal <= 20 s;
- planning it again five minutes later, as the daemon does while the campaign is due, for scale.
The planned rows are deleted afterwards, so `--reuse` measures the same work again.

    python bench/refresh.py /tmp/refresh-bench --customers 1000000 --events 2000000

The store is 3.5 GB at a million customers. On a machine whose disk is shared with other work, put
the folder on tmpfs (`/dev/shm/refresh-bench`): a full refresh took 134-150 s there or on a quiet
disk, and 565 s on a disk under I/O pressure.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import DAYS, START, populate, stamp

from edm.campaigns.planner import plan_campaign
from edm.campaigns.schema import Campaign
from edm.clock import FixedClock
from edm.config import Settings
from edm.engagement import EngagementSummary, refresh_engagement
from edm.resources import bundled_config_dir
from edm.store import make_engine, session_factory
from edm.store.migrate import upgrade_schema

NOTHING_NEW_GOAL = 2.0  # seconds, issue 24
PLAN_GOAL = 20.0  # seconds for 1 M recipients, refresh included
NEW_EVENTS = 1_000
GOAL_CUSTOMERS = 1_000_000  # the size both goals are set for
CAMPAIGN = "bench_greeting"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the store of an earlier run")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    path = args.folder / f"refresh-{args.customers}.db"
    if not (args.reuse and path.exists()):
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        sizes = populate(path, args.customers, args.events)
        print(f"generated {sizes} in {time.perf_counter() - started:.0f} s "
              f"({path.stat().st_size / 1e9:.1f} GB)")
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    sessions = session_factory(engine)
    rules = Settings().engagement
    now = START + timedelta(days=DAYS + 30)

    full, full_seconds = timed(lambda: refresh_engagement(sessions, rules, FixedClock(now), full=True))
    print(f"full refresh: {full_seconds:.2f} s, {full.recomputed:,} customers recomputed (the baseline)")
    later = now + timedelta(minutes=5)
    quiet, quiet_seconds = timed(lambda: refresh_engagement(sessions, rules, FixedClock(later)))
    verdict(f"incremental refresh, nothing new: {quiet_seconds:.2f} s ({quiet.recomputed:,} recomputed, "
            f"{quiet_seconds / full_seconds:.3f} of the full one)", quiet_seconds <= NOTHING_NEW_GOAL and
            not quiet.full, f"<= {NOTHING_NEW_GOAL:.0f} s", args.customers)
    add_events(path, later, NEW_EVENTS)
    later += timedelta(minutes=5)
    busy, busy_seconds = timed(lambda: refresh_engagement(sessions, rules, FixedClock(later)))
    print(f"incremental refresh after {NEW_EVENTS:,} new events: {busy_seconds:.2f} s "
          f"({busy.recomputed:,} recomputed, {'full' if busy.full else 'incremental'})")

    later += timedelta(minutes=5)
    campaign = greeting()
    try:
        plan, plan_seconds = timed(lambda: refresh_and_plan(sessions, rules, campaign, later))
        summary, result = plan
        verdict(f"planning {CAMPAIGN} for {result.audience:,} customers, refresh included: "
                f"{plan_seconds:.1f} s ({result.queued:,} queued, {result.audience - result.queued:,} held; "
                f"the refresh recomputed {summary.recomputed:,})",
                plan_seconds <= PLAN_GOAL, f"<= {PLAN_GOAL:.0f} s", args.customers)
        later += timedelta(minutes=5)
        (_, again), again_seconds = timed(lambda: refresh_and_plan(sessions, rules, campaign, later))
        print(f"planning it again five minutes later (the daemon's next run), refresh included: "
              f"{again_seconds:.1f} s ({again.already_planned:,} already planned, {again.queued:,} queued)")
    finally:
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM outbox WHERE campaign = ?", (CAMPAIGN,))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def timed(work: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def verdict(line: str, met: bool, goal: str, customers: int) -> None:
    """The line with the goal's verdict: the goals are set for a million customers, other sizes not judged."""
    judged = ("met" if met else "NOT MET") if customers == GOAL_CUSTOMERS else "not judged at this size"
    print(f"{line}: goal {goal} at {GOAL_CUSTOMERS:,} customers {judged}")


def refresh_and_plan(
    sessions: Any, rules: Any, campaign: Campaign, now: Any
) -> tuple[EngagementSummary, Any]:
    summary = refresh_engagement(sessions, rules, FixedClock(now))
    result = plan_campaign(sessions, campaign, occurrence=now.date(), now=now, rules=rules)
    return summary, result


def greeting() -> Campaign:
    """The shipped New Year greeting, for every customer in the store."""
    definition = yaml.safe_load((bundled_config_dir() / "campaigns" / "holiday_greeting.yaml").read_text())
    definition.update(name=CAMPAIGN, audience={})
    definition.pop("holiday", None)
    return Campaign.model_validate(definition)


def add_events(path: Path, at: Any, count: int) -> None:
    """`count` opens and clicks on random sent mails, as tracking would record them."""
    rng = np.random.default_rng(7)
    with sqlite3.connect(path) as db:
        sent = [row[0] for row in db.execute("SELECT id FROM outbox WHERE state = 'sent' LIMIT 200000")]
        chosen = rng.choice(np.array(sent), count)
        listed = ",".join(map(str, chosen))
        owners = dict(db.execute(f"SELECT id, customer_id FROM outbox WHERE id IN ({listed})"))
        moment = stamp(np.array([(at - START).total_seconds()]))[0]
        db.executemany("INSERT INTO events (kind, customer_id, outbox_id, occurred_at, machine)"
                       " VALUES (?, ?, ?, ?, 0)",
                       ((str(kind), owners[int(mail)], int(mail), moment)
                        for mail, kind in zip(chosen, rng.choice(["open", "click"], count), strict=True)))


if __name__ == "__main__":
    main()
