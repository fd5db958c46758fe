"""A short memory for the Today page's slower figures (rates over a week, audiences, alerts), so a
page that many people keep open, or reload, costs the store a reading every few minutes, not one per view."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any, TypeVar

T = TypeVar("T")


class Expiring:
    """Values by key, each made again once it is older than `seconds` (monotonic time)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._lock = Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            found = self._kept.get(key)
            if found is not None and now - found[0] < self._seconds:
                return found[1]  # type: ignore[no-any-return]
            # stale entries of other keys go too: the keys carry the day, so they would only pile up
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self._seconds}
        value = make()
        with self._lock:
            self._kept[key] = (now, value)
        return value
