"""Refreshed figures: the first read counts, a stale read answers at once and recounts once in the
background, a failed recount keeps the last figures, `max_age <= 0` counts on every read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from edm.console.snapshots import Refreshed

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Counter:
    """A count that takes `pause` seconds and can be made to fail."""

    def __init__(self, pause: float = 0.0) -> None:
        self.calls, self.pause, self.fail = 0, pause, False

    def __call__(self) -> int:
        self.calls += 1
        time.sleep(self.pause)
        if self.fail:
            raise RuntimeError("the store went away")
        return self.calls


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_first_read_counts_and_fresh_reads_reuse_it() -> None:
    count = Counter()
    figures = Refreshed(count, lambda: NOW, max_age=60)
    first = figures.read()
    assert (first.value, first.counted_at) == (1, NOW)
    assert figures.read().value == 1 and count.calls == 1


def test_a_stale_read_answers_at_once_and_the_next_read_sees_one_recount() -> None:
    count = Counter()
    figures = Refreshed(count, lambda: NOW, max_age=0.05)
    assert figures.read().value == 1
    time.sleep(0.06)
    count.pause = 0.3
    started = time.monotonic()
    assert figures.read().value == 1  # the last figures, without waiting for the recount
    assert figures.read().value == 1
    assert time.monotonic() - started < 0.2
    time.sleep(0.5)
    assert count.calls == 2  # the reads during the recount started no other
    assert figures.read().value == 2


def test_concurrent_cold_readers_wait_for_one_count() -> None:
    count = Counter(pause=0.2)
    figures = Refreshed(count, lambda: NOW, max_age=60)
    seen: list[int] = []
    readers = [threading.Thread(target=lambda: seen.append(figures.read().value)) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert seen == [1, 1, 1, 1] and count.calls == 1


def test_a_failed_recount_keeps_the_last_figures_and_is_tried_again() -> None:
    count = Counter()
    figures = Refreshed(count, lambda: NOW, max_age=0.01)
    assert figures.read().value == 1
    count.fail = True
    time.sleep(0.02)
    figures.read()
    _wait_for(lambda: count.calls == 2)
    time.sleep(0.05)
    assert figures.read().value == 1
    count.fail = False
    _wait_for(lambda: figures.read().value >= 3)


def test_forget_makes_the_next_read_start_a_recount() -> None:
    count = Counter()
    figures = Refreshed(count, lambda: NOW, max_age=3600)
    figures.read()
    figures.forget()
    figures.read()
    _wait_for(lambda: figures.read().value == 2)


@pytest.mark.parametrize("max_age", [0, -1])
def test_no_max_age_counts_on_every_read(max_age: float) -> None:
    count = Counter()
    figures = Refreshed(count, lambda: NOW, max_age=max_age)
    assert [figures.read().value for _ in range(3)] == [1, 2, 3]


def test_a_first_count_that_fails_raises_to_the_reader() -> None:
    count = Counter()
    count.fail = True
    with pytest.raises(RuntimeError):
        Refreshed(count, lambda: NOW, max_age=60).read()


def test_warm_counts_in_the_background_and_a_first_read_waits_only_for_that_count() -> None:
    count = Counter(pause=0.3)
    figures = Refreshed(count, lambda: NOW, max_age=60)
    figures.warm()
    time.sleep(0.05)
    started = time.monotonic()
    assert figures.read().value == 1 and count.calls == 1
    assert time.monotonic() - started < 0.3  # the rest of the warm count, not a second one
