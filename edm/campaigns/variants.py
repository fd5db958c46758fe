"""Which variant of a campaign each customer gets, or whether they are held out.

Deterministic: a hash of (campaign, customer) places every customer at the same point
of [0, 1) on every run, so a re-plan, a restart or a second machine assigns the same
way, and nothing needs storing before the message is planned. The first
`holdout_percent` of the interval is the control group: recorded, never sent, so that
uplift can be measured against it. The rest is shared by the variants' weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HOLDOUT = "holdout"


def position(campaign: str, customer_id: int) -> float:
    """The customer's fixed point in [0, 1) for this campaign."""
    digest = hashlib.sha256(f"{campaign}|{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(
    campaign: str, customer_id: int, variants: Sequence[tuple[str, float]], holdout_percent: float
) -> str | None:
    """HOLDOUT, a variant's name (by weight), or None for a campaign without variants."""
    point = position(campaign, customer_id)
    held = holdout_percent / 100
    if point < held:
        return HOLDOUT
    if not variants:
        return None
    scaled = (point - held) / (1 - held) * sum(weight for _, weight in variants)
    for name, weight in variants:
        if scaled < weight:
            return name
        scaled -= weight
    return variants[-1][0]  # rounding at the very top of the interval
