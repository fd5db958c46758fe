"""Figures that take long to count on a large store, counted again in the background.

On a festival day the Today page counts a million outbox rows; no index makes counting free. So
the page shows the last count and its time, and a read of a count older than `max_age` seconds
starts one recount in a thread: the page answers at once, the next read sees the new figures.
Only a read before the first count (started with the server) has ended waits, for that count.
`max_age <= 0` counts on every read (tests, small stores).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    value: T
    counted_at: datetime  # when the count started, by the console's clock: what the page says "as of"


class Refreshed(Generic[T]):
    """The latest `count()` and when it was made; stale reads start one recount in the background."""

    def __init__(self, count: Callable[[], T], now: Callable[[], datetime], max_age: float) -> None:
        self._count, self._now, self._max_age = count, now, max_age
        self._lock = threading.Lock()
        self._first = threading.Lock()  # cold readers wait for one count, not one each
        self._latest: Snapshot[T] | None = None
        self._taken = 0.0  # monotonic time of the latest count's start
        self._counting = False

    def read(self) -> Snapshot[T]:
        if self._max_age <= 0:
            return self._take()
        with self._lock:
            latest, stale = self._latest, time.monotonic() - self._taken > self._max_age
            start = latest is not None and stale and not self._counting
            if start:
                self._counting = True
        if latest is None:
            with self._first:
                return self._latest or self._take()
        if start:
            threading.Thread(target=self._recount, name="console-figures", daemon=True).start()
        return latest

    def warm(self) -> None:
        """Start the first count in the background (at the server's start), so that the first view
        waits only for what is left of it."""
        if self._max_age > 0:
            threading.Thread(target=self.read, name="console-figures", daemon=True).start()

    def forget(self) -> None:
        """Count afresh on the next read (after an action that changes what is shown)."""
        with self._lock:
            self._taken = float("-inf")

    def _take(self) -> Snapshot[T]:
        started, at = time.monotonic(), self._now()
        snapshot = Snapshot(self._count(), at)
        with self._lock:
            if started >= self._taken:
                self._latest, self._taken = snapshot, started
        return snapshot

    def _recount(self) -> None:
        try:
            self._take()
        except Exception:  # the page keeps the last figures; the next stale read tries again
            log.exception("console: counting the figures again failed")
        finally:
            with self._lock:
                self._counting = False
