"""Keeping bots out without a third-party captcha: a honeypot, a minimum fill time, a rate per address.

`bot_reason` is pure: a filled honeypot, a post sooner than `min_fill_seconds` after the form was
issued, or a form whose start cannot be established is a bot's. The hosted form's start is the
server's signed form token (it cannot be forged); an embedded form's is the time its inline script
wrote when the page loaded (`started`, milliseconds since the epoch): a client's word, so weaker,
and a post without it (no JavaScript) is dropped.

`PerIpLimit` counts posts per client address over the last hour, in this process: several
tracking processes each allow the limit (docs/signup.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from edm.signup.tokens import read_form_token

HOSTED = "hosted"
EMBED = "embed"
FORMS = (HOSTED, EMBED)
CLOCK_SKEW_SECONDS = 300.0  # an embedded form's start may be this far in our future (its clock is not ours)
WINDOW_SECONDS = 3600.0
MAX_TRACKED = 100_000  # client addresses remembered at once; beyond, the quietest are forgotten


@dataclass(frozen=True, slots=True)
class Posted:
    """What a post says about how it was filled in."""

    form: str  # HOSTED or EMBED
    honeypot: str  # the field people never see: anything in it is a bot's
    issued: str | None  # the hosted form's signed token
    started: str | None  # the embedded form's start, milliseconds since the epoch


def bot_reason(posted: Posted, now: datetime, keys: Sequence[bytes], min_fill_seconds: float) -> str | None:
    """Why the post is taken for a bot's (a short reason, for the log), or None for a person's."""
    if posted.honeypot.strip():
        return "honeypot"
    if posted.form == HOSTED:
        issued = read_form_token(posted.issued or "", keys)
        if issued is None:
            return "no valid form token"
        seconds = (now - issued).total_seconds()
    elif posted.form == EMBED:
        started = _millis(posted.started)
        if started is None:
            return "no start time (no JavaScript)"
        seconds = now.timestamp() - started / 1000
        if seconds < -CLOCK_SKEW_SECONDS:
            return "start time in the future"
    else:
        return "unknown form"
    if seconds < min_fill_seconds:
        return f"filled in {max(seconds, 0):.1f}s"
    return None


def _millis(text: str | None) -> int | None:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 15:
        return None
    return int(text)


class PerIpLimit:
    """At most `per_hour` posts from one client address in any hour (a sliding window)."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._seen: dict[str, deque[float]] = {}

    def allow(self, address: str, now: float) -> bool:
        """Count this post; False when the address is over its limit (the post is then refused)."""
        times = self._seen.get(address)
        if times is None:
            if len(self._seen) >= MAX_TRACKED:
                self._forget(now)
            times = self._seen[address] = deque()
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        if len(times) >= self.per_hour:
            return False
        times.append(now)
        return True

    def _forget(self, now: float) -> None:
        """Drop the addresses with nothing in the window, else the half seen longest ago."""
        since = now - WINDOW_SECONDS
        idle = [address for address, times in self._seen.items() if not times or times[-1] <= since]
        if not idle:
            idle = sorted(self._seen, key=lambda address: self._seen[address][-1])[: len(self._seen) // 2]
        for address in idle:
            del self._seen[address]
