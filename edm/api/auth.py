"""API keys, their scopes, and how fast each may call.

A key is `edm_<prefix>.<secret>`: the prefix (public, stored as is) finds the key's row, the
secret is 32 random bytes. Only a SHA-256 of the whole key is stored: a key this random needs no
slow password hash (nobody can guess 2^256 keys, however fast the hash), and a plain hash keeps
working when EDM_SECRET_KEY is rotated. The key is shown once, when made.

Rates are a token bucket per key, kept in the server process: with two processes a key gets
twice its rate. Time here is the monotonic clock (the business clock may be fixed or simulated).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from edm.errors import ConfigError, EdmError
from edm.store import ApiKey

SCOPES = ("customers:read", "customers:write", "orders:write", "events:write", "campaigns:read",
          "campaigns:send", "customers:export", "customers:erase")
KEY_START = "edm_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_KEY = re.compile(r"edm_([A-Za-z0-9]{8})\.([A-Za-z0-9_-]{43})")


class ApiKeyError(EdmError):
    """An `edm api-key` request that cannot be done (unknown scope, name taken, no such key)."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's row id, name, scopes and rate."""

    key_id: int
    name: str
    scopes: frozenset[str]
    rate_per_minute: int | None


def parse_scopes(text: str) -> list[str]:
    """`events:write,customers:read` -> the scopes, checked; raises ApiKeyError naming a wrong one."""
    scopes = sorted({part.strip() for part in text.split(",")} - {""})
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        wrong = f"unknown scope {unknown[0]!r}" if unknown else "no scope given"
        raise ApiKeyError(f"{wrong}; scopes: {', '.join(SCOPES)}")
    return scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(sessions: sessionmaker[Session], name: str, scopes: Sequence[str], now: datetime,
               rate_per_minute: int | None = None) -> str:
    """Store a new key and return it: the only time the whole key is seen."""
    if not _NAME.fullmatch(name):
        raise ApiKeyError(f"key name {name!r}: use letters, digits, '_', '.', '-' (at most 100)")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise ConfigError("--rate must be at least 1 request per minute")
    prefix = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
                     for _ in range(8))
    key = f"{KEY_START}{prefix}.{secrets.token_urlsafe(32)}"
    try:
        with sessions.begin() as session:
            session.add(ApiKey(name=name, prefix=prefix, key_hash=hash_key(key), scopes=list(scopes),
                               rate_per_minute=rate_per_minute, created_at=now, revoked_at=None))
    except IntegrityError as exc:
        raise ApiKeyError(f"an API key named {name!r} exists; pick another name or revoke it first") from exc
    return key


def list_keys(sessions: sessionmaker[Session]) -> list[ApiKey]:
    with sessions() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def revoke_key(sessions: sessionmaker[Session], name: str, now: datetime) -> bool:
    """Revoke the key called `name`; False when it was revoked already."""
    with sessions.begin() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.name == name))
        if key is None:
            raise ApiKeyError(f"no API key named {name!r}; see `edm api-key list`")
        if key.revoked_at is not None:
            return False
        key.revoked_at = now
        return True


def authenticate(session: Session, presented: str) -> Caller | None:
    """The caller a presented key belongs to; None for a malformed, unknown or revoked key."""
    found = _KEY.fullmatch(presented)
    if found is None:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == found.group(1)))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, hash_key(presented)):
        return None
    return Caller(key.id, key.name, frozenset(key.scopes), key.rate_per_minute)


class RateLimiter:
    """A token bucket per key: `rate` requests a minute, bursts up to a minute's worth."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.buckets: dict[int, tuple[float, float]] = {}  # key id -> (tokens, at)
        self.lock = threading.Lock()

    def take(self, key_id: int, rate_per_minute: int) -> int:
        """0 if the request may go now, else the whole seconds to wait (for Retry-After)."""
        per_second = rate_per_minute / 60.0
        with self.lock:
            now = self.monotonic()
            tokens, at = self.buckets.get(key_id, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - at) * per_second)
            if tokens >= 1.0:
                self.buckets[key_id] = (tokens - 1.0, now)
                return 0
            self.buckets[key_id] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / per_second))
