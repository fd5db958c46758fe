"""The one source of "now", passed in so tests and the demo can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved: for tests and simulated runs."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def epoch_day(moment: datetime) -> float:
    """An aware datetime as fractional days since 1970-01-01 UTC: the unit of every `day` in the
    customer figures (edm.customers.features) and the audience rules."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.timestamp() / 86_400
