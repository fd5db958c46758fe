"""A year of mail to a simulated population: edm's adaptive contact frequency against a weekly schedule.

    python bench/simulate_frequency.py [--people 2000] [--seeds 5] [--without LEVER ...] [--ablations]
                                       [--set SETTING=VALUE ...] [--jobs 2]

The population (edm.engagement.simulate) has hidden interest, reading habits and fatigue; the
policy sees only what the store would hold. Prints, per seed and in total, sends, opens by
people, machine opens, clicks and unsubscribes for both policies, the adaptive policy's ratios
to the weekly one with their spread across seeds, and whether the goal is met: clicks >= 1.0x,
sends <= 0.60x and unsubscribes <= 0.50x of the weekly schedule's, in total. `--without`
switches levers off (spacing, veiled, ahead, sunset); `--ablations` also runs the policy
without each lever in turn and prints what each one is worth. `--set` tries other engagement
settings (e.g. --set target_read_rate=0.2).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from edm.config import EngagementSettings
from edm.engagement.simulate import GOAL, LEVERS, Outcome, Ratios, policy_rules, ratios, simulate

FIELDS = ("sends", "opens", "machine_opens", "clicks", "unsubscribes")


def _run(job: tuple[str, int, int, dict[str, Any]]) -> Outcome:
    policy, people, seed, settings = job
    return simulate(policy, size=people, seed=seed, rules=EngagementSettings(**settings))


def _settings(args: argparse.Namespace, without: list[str]) -> dict[str, Any]:
    base = EngagementSettings(**args.settings)
    return policy_rules(base, without).model_dump()


def _line(label: str, r: Ratios) -> str:
    return f"{label:<22} clicks x{r.clicks:.2f}  sends x{r.sends:.2f}  unsubscribes x{r.unsubscribes:.2f}"


def _spread(per_seed: list[Ratios]) -> str:
    def span(name: str) -> str:
        values = [getattr(r, name) for r in per_seed]
        return f"{name} {min(values):.2f}-{max(values):.2f}"
    return "spread across seeds: " + ", ".join(span(name) for name in ("clicks", "sends", "unsubscribes"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1, help="e.g. 6 for seeds the defaults were not "
                        "chosen on")
    parser.add_argument("--without", action="append", default=[], choices=sorted(LEVERS))
    parser.add_argument("--ablations", action="store_true", help="also run without each lever in turn")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SETTING=VALUE")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    args.settings = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    variants = {"adaptive": args.without}
    if args.ablations:
        variants |= {f"without {lever}": [*args.without, lever]
                     for lever in LEVERS if lever not in args.without}
    jobs = [("weekly", args.people, seed, {}) for seed in seeds]
    jobs += [("adaptive", args.people, seed, _settings(args, without)) for without in variants.values()
             for seed in seeds]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(_run, jobs))
    elapsed = time.perf_counter() - started
    weekly = outcomes[: len(seeds)]
    n = len(seeds)
    by_variant = {name: outcomes[n * (i + 1): n * (i + 2)] for i, name in enumerate(variants)}

    adaptive = by_variant["adaptive"]
    print(f"{'seed':>4} {'policy':<9}" + "".join(f"{name:>14}" for name in FIELDS)
          + "   ratios (adaptive/weekly)")
    for seed, w, a in zip(seeds, weekly, adaptive, strict=True):
        for policy, outcome in (("weekly", w), ("adaptive", a)):
            line = f"{seed:>4} {policy:<9}" + "".join(f"{getattr(outcome, name):>14,}" for name in FIELDS)
            if policy == "adaptive":
                r = ratios(w, a)
                line += f"   clicks x{r.clicks:.2f} sends x{r.sends:.2f} unsubscribes x{r.unsubscribes:.2f}"
            print(line)
    total_weekly, total = Outcome(), Outcome()
    for w, a in zip(weekly, adaptive, strict=True):
        total_weekly.add(w)
        total.add(a)
    overall = ratios(total_weekly, total)
    print(f"{'all':>4} {'ratio':<9}" + "".join(
        f"{getattr(total, name) / max(getattr(total_weekly, name), 1):>14.2f}" for name in FIELDS))
    print(_spread([ratios(w, a) for w, a in zip(weekly, adaptive, strict=True)]))
    if args.without or args.settings:
        print(f"levers off: {', '.join(args.without) or 'none'}; settings: {args.settings or 'defaults'}")
    if args.ablations:
        print("\neach lever's worth (the policy without it, in total over the seeds):")
        for name, runs in by_variant.items():
            total_variant = Outcome()
            for a in runs:
                total_variant.add(a)
            label = name if name == "adaptive" else f"{name} ({LEVERS[name.removeprefix('without ')][0]})"
            print(_line(label, ratios(total_weekly, total_variant)))
    met = overall.meets(GOAL)
    print(f"\nadaptive vs weekly over {args.seeds} seeds x {args.people} people, 52 weeks "
          f"({elapsed:.0f} s): clicks x{overall.clicks:.2f} (goal >= {GOAL.clicks:.2f}), "
          f"sends x{overall.sends:.2f} (goal <= {GOAL.sends:.2f}), "
          f"unsubscribes x{overall.unsubscribes:.2f} (goal <= {GOAL.unsubscribes:.2f}) "
          f"-> goal {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
