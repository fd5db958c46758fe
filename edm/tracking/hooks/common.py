"""What every provider hook shares: the request as received, the two ways to refuse it, and
the small readers that turn a provider's loosely typed JSON into our values without raising."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Incoming:
    """One POST to /hooks/{provider}: the raw body (signatures are over its exact bytes) and headers."""

    body: bytes
    headers: Mapping[str, str]  # names lower-cased


class HookRefused(Exception):
    """Not from the provider (no, a wrong or a stale signature; wrong credentials): nothing is written."""

    def __init__(self, why: str, status: int = 403) -> None:
        super().__init__(why)
        self.status = status


class HookMalformed(Exception):
    """Not a payload this provider sends (bad JSON, missing fields): a 400, nothing written."""


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HookMalformed("the body is not JSON") from exc


def text(value: Any) -> str | None:
    """A non-empty string field, else None."""
    return value if isinstance(value, str) and value.strip() else None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def iso_time(value: Any) -> datetime | None:
    """An ISO 8601 time (`2016-01-27T14:59:38.237Z`, Postmark's seven fraction digits too), UTC."""
    raw = text(value)
    if raw is None:
        return None
    raw = raw.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = raw.partition(".")
    if dot:  # fromisoformat takes at most six fraction digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        raw = head + "." + rest[:min(digits, 6)] + rest[digits:]
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def epoch_time(value: Any) -> datetime | None:
    """Seconds since 1970 (an int, float or numeric string), UTC."""
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, UTC) if 0 <= seconds < 1e11 else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def bracketed(message_id: str | None) -> str | None:
    """`id@host` -> `<id@host>`: providers echo the Message-ID with or without its brackets."""
    if not message_id:
        return None
    value = message_id.strip()
    return value if value.startswith("<") else f"<{value}>"


class ReplayGuard:
    """Tokens seen within their age limit (Mailgun's): a token seen again is a replay. In memory:
    after a restart a replay within the age limit is stored once more, and recording is idempotent."""

    MAX = 100_000

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, token: str, now: float, expires: float) -> bool:
        """True the first time `token` is seen (and remember it until `expires`), False after."""
        with self._lock:
            if len(self._seen) > self.MAX:
                self._seen = {t: until for t, until in self._seen.items() if until > now}
            until = self._seen.get(token)
            if until is not None and until > now:
                return False
            self._seen[token] = expires
            return True
