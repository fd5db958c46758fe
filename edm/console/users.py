"""Console users: who may sign in, with which role; passwords kept only as argon2id hashes.

`authenticate` spends the same argon2 work whether the name exists or not, so a failed sign-in
tells nothing about which names are users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from edm.errors import EdmError
from edm.store import ConsoleUser

ADMIN, MARKETER, ANALYST, MANAGER = "admin", "marketer", "analyst", "manager"
ROLES = (ADMIN, MARKETER, ANALYST, MANAGER)
ACTING_ROLES = frozenset({ADMIN, MARKETER})  # may approve, pause and resume campaigns
MIN_PASSWORD = 12
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")

_HASHER = PasswordHasher()  # argon2id, the library's current parameters (RFC 9106's second choice)
_DUMMY_HASH = _HASHER.hash("not a password of anyone's: spent on unknown names")


class UserError(EdmError):
    """A user that cannot be added or changed as asked."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    email: str | None  # a manager's: their customers are those whose account_manager_email is it
    created_at: datetime
    disabled_at: datetime | None = None
    signed_out_at: datetime | None = None  # their sessions issued before it are over

    @property
    def may_act(self) -> bool:
        return self.role in ACTING_ROLES


def add_user(session: Session, name: str, role: str, password: str, now: datetime,
             email: str | None = None) -> User:
    """A new user; the name must be free, the role known, the password long enough."""
    if not NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: use letters, digits and . _ @ - (at most 100), e.g. li.wei")
    if role not in ROLES:
        raise UserError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == MANAGER and not email:
        raise UserError("a manager needs --email: the account_manager_email of their customers")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == name)) is not None:
        raise UserError(f"a user named {name!r} exists already")
    row = ConsoleUser(name=name, role=role, email=email.strip() if email else None,
                      password_hash=_HASHER.hash(password), created_at=now)
    session.add(row)
    return _user(row)


def list_users(session: Session) -> list[User]:
    return [_user(row) for row in session.scalars(select(ConsoleUser).order_by(ConsoleUser.name))]


def disable_user(session: Session, name: str, now: datetime) -> User:
    """Stop `name` signing in; their open sessions end at their next request."""
    row = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if row is None:
        raise UserError(f"no user named {name!r} (see `edm users list`)")
    if row.disabled_at is None:
        row.disabled_at = now
    return _user(row)


def active_user(session: Session, name: str) -> User | None:
    """The user `name` if they exist and are not disabled."""
    row = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    return _user(row) if row is not None and row.disabled_at is None else None


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user when `password` is theirs and they are enabled; else None, after the same work."""
    known = NAME.fullmatch(name) is not None
    row = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name)) if known else None
    try:
        _HASHER.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    if _HASHER.check_needs_rehash(row.password_hash):
        row.password_hash = _HASHER.hash(password)
    return _user(row)


def manager_key(user: User) -> str | None:
    """A manager's email as their customers' `account_manager_email` is compared (trimmed, lower-case,
    as edm.alerts.collect does); None for the other roles, who see every customer."""
    return user.email.strip().lower() if user.role == MANAGER and user.email else None


def sign_out(session: Session, name: str, now: datetime) -> None:
    """End every session of `name` issued until `now` (on every device)."""
    row = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if row is not None:
        row.signed_out_at = now


def _user(row: ConsoleUser) -> User:
    return User(row.name, row.role, row.email, row.created_at, row.disabled_at, row.signed_out_at)
