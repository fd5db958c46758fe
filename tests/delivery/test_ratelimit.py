"""Rate limits, counted per window on a fake monotonic clock (no wall-clock timing)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.config import SmtpSettings
from edm.delivery.ratelimit import TokenBucket
from edm.delivery.transport import Outgoing, SmtpTransport
from edm.errors import NotAttemptedError
from tests.delivery.smtp_servers import ScriptedHandler, serving


class FakeTimer:
    """Monotonic time that moves only when someone sleeps (to the end of the sleep)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def _most_in_a_window(times: list[float], width: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - width:
            start += 1
        most = max(most, end - start + 1)
    return most


@given(
    st.floats(min_value=0.5, max_value=500),
    st.integers(min_value=1, max_value=20),
    st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=300),
)
def test_a_bucket_never_grants_more_than_its_burst_plus_its_rate_in_any_window(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket, now, slots = TokenBucket(rate, burst), 0.0, []
    for gap in gaps:
        now += gap
        slot = bucket.reserve(now)
        assert slot is not None and slot >= now
        slots.append(slot)
    assert _most_in_a_window(slots, 1.0) <= burst + math.ceil(rate) + 1e-9


def test_a_bucket_keeps_up_its_rate_when_busy() -> None:
    bucket = TokenBucket(20, burst=1)
    slots = [bucket.reserve(0.0) for _ in range(200)]
    assert slots[-1] == pytest.approx(199 / 20)


def _batch(recipients: list[str]) -> list[Outgoing]:
    data = b"From: care@example.com\r\nTo: x@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
    return [Outgoing(i, "care@example.com", r, data) for i, r in enumerate(recipients)]


def test_the_global_and_per_domain_limits_hold_over_real_smtp() -> None:
    timer = FakeTimer()
    handler = ScriptedHandler()
    handler.clock = timer.monotonic
    recipients = [f"g{i}@gmail.com" for i in range(60)] + [f"o{i}@example.{i % 7}.com" for i in range(90)]
    with serving(handler) as port:
        settings = SmtpSettings(port=port, concurrency=1, rate_limit=30, domain_limits={"Gmail.com": 5})
        transport = SmtpTransport(settings, timer=timer)

        async def send() -> None:
            assert all(d.error is None for d in await transport.send(_batch(recipients)))
            await transport.close()

        asyncio.run(send())
    gmail = [at for at, r in handler.received_at if r.endswith("@gmail.com")]
    everyone = [at for at, _ in handler.received_at]
    assert len(everyone) == 150
    assert _most_in_a_window(gmail, 1.0) <= 5 + 1  # rate + burst (a tenth of a second's worth, at least 1)
    assert _most_in_a_window(everyone, 1.0) <= 30 + 3
    # and not much slower than the limits require: 60 gmail messages at 5/s take 12 s
    assert max(gmail) - min(everyone) < 16
    per_second = Counter(int(at - 1000) for at in everyone)
    assert max(per_second.values()) > 5  # other domains fill the gaps between gmail messages


def test_messages_whose_domain_is_booked_far_ahead_are_put_back_unattempted() -> None:
    timer = FakeTimer()
    handler = ScriptedHandler()
    with serving(handler) as port:
        settings = SmtpSettings(port=port, domain_limits={"gmail.com": 1}, claim_lease_seconds=8)
        transport = SmtpTransport(settings, timer=timer)
        results = asyncio.run(transport.send(_batch([f"g{i}@gmail.com" for i in range(6)])))
    sent = [r for r in results if r.error is None]
    put_back = [r.error for r in results if isinstance(r.error, NotAttemptedError)]
    assert len(sent) == 3 and len(put_back) == 3  # slots now, +1 s, +2 s fit in a quarter of the lease
    assert all(e.retry_after > 0 for e in put_back)
    assert len(handler.recipients) == 3
