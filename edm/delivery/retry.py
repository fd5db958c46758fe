"""Retry and bounce policy: pure functions over the relay's answer, the row's age and a random source.

The SMTP mechanics only report what the relay said; what that means for the outbox row
(sent, retry later, bounce and suppress, give up) is decided here, with no I/O.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from edm.errors import DeliveryError, PermanentDeliveryError


class Outcome(Enum):
    SENT = "sent"
    BOUNCED = "bounced"  # the recipient's address is bad: suppress it, never send again
    REJECTED = "rejected"  # 5xx about our message or our side: the row fails, the customer stays
    RETRY = "retry"  # 4xx or connection trouble: deferred with backoff, or failed when too old


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by the message's age and its attempts."""

    base: timedelta
    cap: timedelta
    max_age: timedelta
    max_attempts: int

    def next_attempt(
        self, *, attempts: int, created_at: datetime, now: datetime, rng: random.Random
    ) -> datetime | None:
        """When to try again after `attempts` tries, or None when the message should fail now.

        Full jitter (a uniform delay up to the exponential bound) spreads retries of a batch
        that failed together, so a relay coming back is not hit by all of them at once.
        """
        if attempts >= self.max_attempts:
            return None
        deadline = created_at + self.max_age
        if now >= deadline:
            return None
        bound = min(self.cap, self.base * 2 ** min(max(attempts - 1, 0), 62))
        delay = timedelta(seconds=rng.uniform(0, bound.total_seconds()))
        return min(now + delay, deadline)


_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_ABOUT_THE_RECIPIENT_CODES = (550, 551, 553)  # mailbox unavailable / not local / name not allowed


def outcome(error: DeliveryError | None) -> Outcome:
    """What the relay's answer means for the row.

    Only a 5xx about the address (enhanced status 5.1.x addressing, 5.2.x mailbox except
    5.2.3 "message too big"; without one, the classic 550/551/553) is a hard bounce. Policy,
    content and protocol refusals (5.7.x spam or authentication, 5.6.x, 5.3.x ...) say
    nothing about the customer: the row fails and the address stays mailable.
    """
    if error is None:
        return Outcome.SENT
    if not isinstance(error, PermanentDeliveryError):
        return Outcome.RETRY
    enhanced = _ENHANCED.search(str(error))
    if enhanced and enhanced.group(1) == "5":
        subject, detail = enhanced.group(2), enhanced.group(3)
        about_address = subject == "1" or (subject == "2" and detail != "3")
        return Outcome.BOUNCED if about_address else Outcome.REJECTED
    return Outcome.BOUNCED if error.code in _ABOUT_THE_RECIPIENT_CODES else Outcome.REJECTED


REASON_CHARS = 100
_STATUS = re.compile(r"[245]\d\d|[245]\.\d{1,3}\.\d{1,3}")
_CODE = re.compile(r"^([245]\d\d)\b")


def failure_reason(reply: str | None) -> str:
    """A short key that groups the failures of a run by cause: the reply's first line, without the
    queue ids, times and addresses that would set two identical refusals apart, on one line.

    A transient reply (4xx, a relay that could not be reached) on a failed row means the
    retries ran out, and says so.
    """
    words: list[str] = []
    for word in (reply or "").strip().partition("\n")[0].split():
        noise = len(word) >= 5 and any(c.isdigit() for c in word) and not _STATUS.fullmatch(word)
        if not noise:
            words.append(word)
        elif not words or words[-1] != "…":
            words.append("…")
    text = " ".join(words) or "no reason recorded"
    code = _CODE.match(text)
    if (code and code.group(1).startswith("4")) or text.startswith("relay unavailable"):
        text = f"gave up retrying: {text}"
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1].rstrip() + "…"
