"""When a failed delivery is tried again: pure."""

from __future__ import annotations

import random
from collections.abc import Sequence


def retry_delay(attempts: int, schedule: Sequence[float], jitter: float,
                rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed try: the schedule's entry (its last one once
    past its end), stretched by up to `jitter` of itself so many failing rows do not retry in step."""
    base = schedule[min(max(attempts, 1), len(schedule)) - 1]
    spread = (rng or random).random() * jitter if jitter else 0.0
    return base * (1 + spread)
