"""Send-rate limits: one global, one per recipient domain, on a monotonic clock passed in.

Each limit is a token bucket kept as the generic cell rate algorithm: one number, the
theoretical arrival time, so a reservation is O(1) and needs no background refill. A
reservation returns the monotonic time at which the message may go; callers sleep until
then. Time comes from a `Timer`, so tests drive it by hand and never wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Protocol


class Timer(Protocol):
    """Monotonic seconds and a way to wait for them (real, or fake in tests)."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemTimer:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TokenBucket:
    """`rate` messages per second on average, with bursts of at most `burst` at once.

    In any window of `w` seconds at most `burst + rate * w` messages get a slot. The default
    burst is a tenth of a second's worth: smooth enough for relays, coarse enough for asyncio.
    """

    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1, int(rate / 10))
        self._interval = 1.0 / rate
        self._tolerance = (self.burst - 1) * self._interval
        self._tat = float("-inf")  # theoretical arrival time of the next message

    def next_free(self, now: float) -> float:
        """The monotonic time of the next free slot, without taking it."""
        return max(now, self._tat - self._tolerance)

    def reserve(self, now: float, horizon: float = float("inf")) -> float | None:
        """Take the next free slot and return its monotonic time; None (nothing taken) if it
        lies more than `horizon` seconds ahead."""
        at = self.next_free(now)
        if at - now > horizon:
            return None
        self._tat = max(self._tat, now) + self._interval
        return at


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


class RateLimiter:
    """The global limit and the per-domain limits together; unlimited parts cost nothing.

    A message takes its slots only at the moment it goes, in every bucket at once, so a
    message held back by one limit never spends another limit's slot early (which would let
    the held-back messages out in a burst later).
    """

    def __init__(self, global_rate: float | None, domain_rates: Mapping[str, float], timer: Timer) -> None:
        self._timer = timer
        self._global = TokenBucket(global_rate) if global_rate else None
        self._domains = {domain.lower(): TokenBucket(rate) for domain, rate in domain_rates.items()}

    def estimate(self, recipients: list[str]) -> list[float]:
        """Seconds from now until each message could go by its domain's limit alone, taking the
        domain's messages in the order given. Nothing is reserved: it is for ordering a batch."""
        now = self._timer.monotonic()
        seen: dict[str, int] = {}
        waits = []
        for recipient in recipients:
            domain = domain_of(recipient)
            bucket = self._domains.get(domain)
            if bucket is None:
                waits.append(0.0)
                continue
            ahead = seen.get(domain, 0)
            seen[domain] = ahead + 1
            waits.append(max(0.0, bucket.next_free(now) - now) + ahead / bucket.rate)
        return waits

    async def acquire(self, recipient: str) -> float:
        """Wait until both the global and the domain limit have a slot, take them; returns the time."""
        buckets = [b for b in (self._global, self._domains.get(domain_of(recipient))) if b is not None]
        while True:
            now = self._timer.monotonic()
            ready = max((bucket.next_free(now) for bucket in buckets), default=now)
            if ready <= now:
                for bucket in buckets:
                    bucket.reserve(now)
                return now
            await self._timer.sleep(ready - now)
