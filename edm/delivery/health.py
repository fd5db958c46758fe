"""When sending pauses itself: pure policy over a window of recent deliveries.

A delivery is a row a relay answered for good: `sent`, or `bounced` (a 5xx). Over the window
(the last `window_deliveries` of a campaign, or of all bulk mail, within `window_hours`, and
never before the scope was last resumed), hard bounces above `max_bounce_rate` or complaints
above `max_complaint_rate` pause it. Under `min_deliveries` nothing is judged: one bounce in
three sends says nothing about a list. All bulk mail is judged without the campaigns paused and
without its worst campaign (`spread`): a single bad list pauses its campaign, not every campaign.

Scopes are the keys of `sending_pauses`: `campaign:NAME` or `bulk`. A resume is remembered as a
row under `resumed:` + the scope, its `paused_at` the time of the resume: the window starts
there, so the deliveries that caused the pause do not pause it again at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edm.campaigns.schema import Campaign
from edm.config import DeliverabilitySettings

BULK = "bulk"
CAMPAIGN_PREFIX = "campaign:"
RESUMED_PREFIX = "resumed:"
SERVICE_KINDS = frozenset({"service", "transactional"})  # "transactional": the older name of service


def is_bulk(campaign: Campaign) -> bool:
    """Bulk mail is every kind but service: a bulk pause and warm-up caps hold it back."""
    return str(campaign.kind) not in SERVICE_KINDS


def campaign_scope(name: str) -> str:
    return CAMPAIGN_PREFIX + name


def resumed_scope(scope: str) -> str:
    """Where the time `scope` was last resumed is kept (see the module docstring)."""
    return RESUMED_PREFIX + scope


def is_pause(scope: str) -> bool:
    """A `sending_pauses` row that holds mail back (not a resume mark)."""
    return not scope.startswith(RESUMED_PREFIX)


def describe_scope(scope: str) -> str:
    """`campaign:spring` -> "campaign spring", `bulk` -> "bulk mail"."""
    if scope.startswith(CAMPAIGN_PREFIX):
        return f"campaign {scope[len(CAMPAIGN_PREFIX):]}"
    return "bulk mail" if scope == BULK else scope


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What the window holds: deliveries, and how many of them hard-bounced or drew a complaint."""

    deliveries: int
    bounces: int
    complaints: int


def total(stats: Iterable[WindowStats]) -> WindowStats:
    parts = list(stats)
    return WindowStats(sum(s.deliveries for s in parts), sum(s.bounces for s in parts),
                       sum(s.complaints for s in parts))


def spread(by_campaign: Mapping[str, WindowStats]) -> WindowStats:
    """All bulk mail's window less its worst campaign (the most bounces and complaints): one
    campaign's trouble is for its own pause; bulk sending pauses for trouble spread over several."""
    if not by_campaign:
        return WindowStats(0, 0, 0)
    worst = max(sorted(by_campaign), key=lambda n: by_campaign[n].bounces + by_campaign[n].complaints)
    return total(stats for name, stats in by_campaign.items() if name != worst)


def estimate(base: Mapping[str, WindowStats], fresh: Mapping[str, WindowStats],
             window: int) -> dict[str, WindowStats]:
    """A window by campaign as it stands now, from the store's figures at the last reading (`base`)
    and what was answered since (`fresh`): the newest `window` deliveries, the older reading's
    share shrunk in proportion. Cheap, so a run can judge often and read the store only when
    the estimate is over a limit (or now and then, for complaints, which come from elsewhere)."""
    fresh_total = sum(s.deliveries for s in fresh.values())
    base_total = sum(s.deliveries for s in base.values())
    factor = min(1.0, max(0, window - fresh_total) / base_total) if base_total else 0.0
    zero = WindowStats(0, 0, 0)
    return {
        name: add(WindowStats(round(old.deliveries * factor), round(old.bounces * factor),
                              round(old.complaints * factor)), new)
        for name in sorted(set(base) | set(fresh))
        for old, new in [(base.get(name, zero), fresh.get(name, zero))]
    }


def add(one: WindowStats, other: WindowStats) -> WindowStats:
    return WindowStats(one.deliveries + other.deliveries, one.bounces + other.bounces,
                       one.complaints + other.complaints)


def percent(rate: float) -> str:
    """0.062 -> "6.2%", 0.05 -> "5%", 0.001 -> "0.1%"."""
    return f"{rate * 100:.3g}%"


def pause_reason(stats: WindowStats, settings: DeliverabilitySettings) -> str | None:
    """Why the scope must pause, in one line; None while it may go on.

    e.g. "hard bounces 6.2% of the last 1000 deliveries (limit 5%)".
    """
    if stats.deliveries < settings.min_deliveries or stats.deliveries <= 0:
        return None
    checks = (("hard bounces", stats.bounces, settings.max_bounce_rate),
              ("complaints", stats.complaints, settings.max_complaint_rate))
    for what, count, limit in checks:
        rate = count / stats.deliveries
        if rate > limit:
            return (f"{what} {percent(rate)} of the last {stats.deliveries} deliveries "
                    f"(limit {percent(limit)})")
    return None
