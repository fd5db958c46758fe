"""A run's running estimate of each scope's window, so the store is read only when it matters.

Reading a window from the outbox costs a scan of the campaign's delivered rows (no index on
`(campaign, sent_at)`), far too much after every batch of a large campaign. So a run keeps,
per scope, the figures of its last reading plus what it answered since (`health.estimate`),
and reads the store again when the estimate is over a limit, when the scope was never read
in this run, or every `CHECK_SECONDS` (complaints arrive from elsewhere). The store decides:
an estimate alone never pauses anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from edm.config import DeliverabilitySettings
from edm.delivery.health import WindowStats, add, estimate, pause_reason
from edm.delivery.holds import judged_stats

CHECK_SECONDS = 5.0  # a scope under its limits is read from the store again at most this often


@dataclass
class _Reading:
    at: float  # monotonic seconds
    base: dict[str, WindowStats]
    fresh: dict[str, WindowStats] = field(default_factory=dict)


class Watch:
    def __init__(self, settings: DeliverabilitySettings) -> None:
        self.settings = settings
        self._readings: dict[str, _Reading] = {}

    def due(self, scopes: Mapping[str, list[str]], answered: Mapping[str, WindowStats],
            now: float) -> list[str]:
        """Add what was answered (by campaign) to each scope's estimate; the scopes to read again."""
        due = []
        for scope, campaigns in scopes.items():
            reading = self._readings.get(scope)
            if reading is None or now - reading.at >= CHECK_SECONDS:
                due.append(scope)
                continue
            for name in campaigns:
                if name in answered:
                    reading.fresh[name] = add(reading.fresh.get(name, WindowStats(0, 0, 0)), answered[name])
            guess = estimate(reading.base, reading.fresh, self.settings.window_deliveries)
            if pause_reason(judged_stats(scope, guess), self.settings) is not None:
                due.append(scope)
        return due

    def read(self, judged: Mapping[str, dict[str, WindowStats]], now: float) -> None:
        """The store's figures for the scopes just read: the new base of their estimates."""
        for scope, by_campaign in judged.items():
            self._readings[scope] = _Reading(now, dict(by_campaign))
