"""Console sessions, CSRF tokens and the sign-in rate limit; pure but for the limiter's memory.

A session is a cookie holding a token signed like tracking links (edm.tracking.tokens, the
`secret_keys`, newest first): the user's name (None before sign-in), a random nonce and an expiry.
Signing in issues a new nonce (no session fixation). A form's CSRF token is an HMAC of the nonce,
so it is bound to one session and changes at sign-in; every POST must carry it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from edm.tracking.tokens import sign, verify

KIND = "console"
COOKIE = "edm_console"
LANGUAGE_COOKIE = "edm_console_lang"


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    user: str | None  # None: not signed in yet (the sign-in form's session)
    nonce: str
    expires: int  # epoch seconds
    issued: float  # epoch seconds: a sign-out after it ends the session

    def csrf(self, keys: Sequence[bytes]) -> str:
        """The token every form of this session carries."""
        return hmac.new(keys[0], f"csrf|{self.nonce}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str, keys: Sequence[bytes]) -> bool:
        """Whether `token` is this session's, under any of the keys (a rotation keeps forms working)."""
        return any(hmac.compare_digest(token.encode(), hmac.new(key, f"csrf|{self.nonce}".encode(),
                                                                 hashlib.sha256).hexdigest().encode())
                   for key in keys)


def new_session(user: str | None, now: float, lifetime_seconds: float) -> ConsoleSession:
    return ConsoleSession(user, secrets.token_urlsafe(16), int(now + lifetime_seconds), now)


def seal(session: ConsoleSession, keys: Sequence[bytes]) -> str:
    """The cookie value of `session`."""
    return sign({"k": KIND, "u": session.user, "n": session.nonce, "e": session.expires, "i": session.issued},
                keys)


def unseal(value: str | None, keys: Sequence[bytes], now: float) -> ConsoleSession | None:
    """The session a cookie holds; None when absent, forged, of another kind or expired."""
    payload = verify(value, keys) if value else None
    if payload is None or payload.get("k") != KIND:
        return None
    user, nonce, expires, issued = payload.get("u"), payload.get("n"), payload.get("e"), payload.get("i")
    if not (isinstance(nonce, str) and isinstance(expires, int) and isinstance(issued, int | float)
            and (user is None or isinstance(user, str))):
        return None
    if expires <= now:
        return None
    return ConsoleSession(user, nonce, expires, float(issued))


@dataclass
class LoginLimit:
    """At most `per_ip` sign-in attempts per client address and `per_user` failed ones per user name
    within `window_seconds`, counted in this process (a second process counts its own)."""

    per_ip: int
    per_user: int
    window_seconds: float
    _ips: dict[str, deque[float]] = field(default_factory=dict)
    _users: dict[str, deque[float]] = field(default_factory=dict)

    def allowed(self, ip: str, user: str, now: float | None = None) -> bool:
        """Whether this attempt may be judged at all; counts it against the address."""
        now = time.monotonic() if now is None else now
        ip_times = self._recent(self._ips, ip, now)
        user_failures = self._recent(self._users, user.casefold(), now)
        if len(ip_times) >= self.per_ip or len(user_failures) >= self.per_user:
            return False
        ip_times.append(now)
        return True

    def failed(self, user: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._recent(self._users, user.casefold(), now).append(now)

    def _recent(self, table: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        if len(table) > 100_000:  # a flood of addresses: forget the idle ones rather than grow
            idle = now - self.window_seconds
            for stale in [k for k, times in table.items() if not times or times[-1] <= idle]:
                del table[stale]
        times = table.setdefault(key, deque())
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        return times
