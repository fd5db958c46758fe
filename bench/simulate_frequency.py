"""A year of mail to a simulated population: edm's adaptive contact frequency against a weekly schedule.

    python bench/simulate_frequency.py [--people 5000] [--seeds 3]

The population (edm.engagement.simulate) has hidden interest, reading hours and fatigue,
and a quarter of it reads through a pixel-fetching privacy proxy. Prints, per seed and in
total, sends, opens by people, machine opens, clicks and unsubscribes for both policies,
and the adaptive policy's ratios to the weekly one. The goal: at least as many clicks,
with fewer sends and fewer unsubscribes.
"""

from __future__ import annotations

import argparse
import time

from edm.engagement.simulate import Outcome, simulate

FIELDS = ("sends", "opens", "machine_opens", "clicks", "unsubscribes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    totals = {"weekly": Outcome(), "adaptive": Outcome()}
    print(f"{'seed':>4} {'policy':<9}" + "".join(f"{name:>14}" for name in FIELDS))
    started = time.perf_counter()
    for seed in range(1, args.seeds + 1):
        for policy, total in totals.items():
            outcome = simulate(policy, size=args.people, seed=seed)
            for name in FIELDS:
                setattr(total, name, getattr(total, name) + getattr(outcome, name))
            print(f"{seed:>4} {policy:<9}" + "".join(f"{getattr(outcome, name):>14,}" for name in FIELDS))
    weekly, adaptive = totals["weekly"], totals["adaptive"]
    print(f"{'all':>4} {'ratio':<9}" + "".join(
        f"{getattr(adaptive, name) / max(getattr(weekly, name), 1):>14.2f}" for name in FIELDS))
    held = (adaptive.clicks >= weekly.clicks and adaptive.sends < weekly.sends
            and adaptive.unsubscribes < weekly.unsubscribes)
    print(f"\nadaptive vs weekly over {args.seeds} x {args.people} people, 52 weeks "
          f"({time.perf_counter() - started:.0f} s): clicks x{adaptive.clicks / weekly.clicks:.2f}, "
          f"sends x{adaptive.sends / weekly.sends:.2f}, "
          f"unsubscribes x{adaptive.unsubscribes / weekly.unsubscribes:.2f} "
          f"-> goal {'met' if held else 'NOT met'}")


if __name__ == "__main__":
    main()
