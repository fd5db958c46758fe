"""The retry and bounce policy as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.delivery.retry import Outcome, RetryPolicy, outcome
from edm.errors import NotAttemptedError, PermanentDeliveryError, TransientDeliveryError

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(base=timedelta(minutes=10), cap=timedelta(hours=4), max_age=timedelta(hours=48),
                     max_attempts=20)

attempts = st.integers(min_value=1, max_value=19)
ages = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=47, minutes=59))


@given(attempts, ages, st.integers())
def test_the_next_attempt_lies_within_the_exponential_bound_and_the_maximum_age(
    tries: int, age: timedelta, seed: int
) -> None:
    now = CREATED + age
    at = POLICY.next_attempt(attempts=tries, created_at=CREATED, now=now, rng=random.Random(seed))
    assert at is not None
    bound = min(POLICY.cap, POLICY.base * 2 ** (tries - 1))
    assert now <= at <= now + bound
    assert at <= CREATED + POLICY.max_age


@given(attempts, st.timedeltas(min_value=timedelta(hours=48), max_value=timedelta(days=30)), st.integers())
def test_a_message_older_than_the_maximum_age_fails(tries: int, age: timedelta, seed: int) -> None:
    assert POLICY.next_attempt(attempts=tries, created_at=CREATED, now=CREATED + age,
                               rng=random.Random(seed)) is None


@given(st.integers(min_value=20, max_value=1000), ages)
def test_a_message_out_of_attempts_fails(tries: int, age: timedelta) -> None:
    assert POLICY.next_attempt(attempts=tries, created_at=CREATED, now=CREATED + age,
                               rng=random.Random(0)) is None


def test_jitter_spreads_a_batch_that_failed_together() -> None:
    rng = random.Random(1)
    times = {POLICY.next_attempt(attempts=3, created_at=CREATED, now=CREATED, rng=rng) for _ in range(100)}
    assert len(times) == 100


@pytest.mark.parametrize(("error", "expected"), [
    (None, Outcome.SENT),
    (TransientDeliveryError("451 4.7.1 greylisted", code=451), Outcome.RETRY),
    (TransientDeliveryError("relay unavailable: connection refused"), Outcome.RETRY),
    (NotAttemptedError("no relay reachable"), Outcome.RETRY),
    (PermanentDeliveryError("550 5.1.1 user unknown", code=550), Outcome.BOUNCED),
    (PermanentDeliveryError("550 5.2.1 mailbox disabled", code=550), Outcome.BOUNCED),
    (PermanentDeliveryError("550 no such user here", code=550), Outcome.BOUNCED),
    (PermanentDeliveryError("553 mailbox name not allowed", code=553), Outcome.BOUNCED),
    (PermanentDeliveryError("552 5.2.3 message too big", code=552), Outcome.REJECTED),
    (PermanentDeliveryError("554 5.7.1 rejected as spam", code=554), Outcome.REJECTED),
    (PermanentDeliveryError("550 5.7.26 DMARC policy", code=550), Outcome.REJECTED),
    (PermanentDeliveryError("554 transaction failed", code=554), Outcome.REJECTED),
])
def test_only_refusals_about_the_address_are_hard_bounces(
    error: TransientDeliveryError | PermanentDeliveryError | None, expected: Outcome
) -> None:
    assert outcome(error) is expected
