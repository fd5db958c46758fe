"""The leader lock: exactly one daemon per store schedules; the others wait as standbys.

No home-made election: the database's own locks decide. On PostgreSQL a session-level
advisory lock held on a dedicated connection for the life of the leadership (the server
drops it the moment that connection dies, e.g. the leader is killed); on SQLite an
exclusive `flock` on `<database file>.leader` (the kernel drops it when the process dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# one lock per schema: two installations (or test runs) sharing a PostgreSQL database never meet
_ADVISORY_KEY = "hashtext(current_schema() || '/' || :name)"
_LOCK_NAME = {"name": "edm.daemon.leader"}


class LeaderLock(Protocol):
    """Non-blocking: `acquire` answers at once, so a standby can retry on its own schedule."""

    def acquire(self) -> bool:
        """True when this process now holds the lock (or already did)."""
        ...

    def held(self) -> bool:
        """Whether the lock is still ours (False once its connection is gone)."""
        ...

    def release(self) -> None: ...


class AdvisoryLock:
    """`pg_try_advisory_lock` on a connection of its own, kept open while leading."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        if self._connection is not None:
            return True
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            log.warning("leader lock: database unreachable: %s", exc.__class__.__name__)
            return False
        try:
            taken = bool(connection.scalar(text(f"SELECT pg_try_advisory_lock({_ADVISORY_KEY})"), _LOCK_NAME))
        except SQLAlchemyError as exc:
            log.warning("leader lock: %s", exc.__class__.__name__)
            taken = False
        if taken:
            self._connection = connection
        else:
            connection.close()
        return taken

    def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.scalar(text("SELECT 1"))
        except SQLAlchemyError:
            self._drop()  # the session, and with it the lock, is gone
            return False
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(SQLAlchemyError):
            self._connection.scalar(text(f"SELECT pg_advisory_unlock({_ADVISORY_KEY})"), _LOCK_NAME)
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.invalidate()  # never back into the pool: its session held the lock
                self._connection.close()
        self._connection = None


class FileLock:
    """An exclusive `flock` on a file beside the SQLite database; the holder's pid is written in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        handle = self.path.open("a+", encoding="ascii")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class AlwaysLeader:
    """An in-memory SQLite store belongs to one process: nothing to compete with."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        return None


def leader_lock(engine: Engine) -> LeaderLock:
    """The lock that fits the store behind `engine`."""
    url = make_url(engine.url)
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(engine)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return AlwaysLeader()
        return FileLock(Path(f"{url.database}.leader"))
    raise NotImplementedError(f"edm supports SQLite and PostgreSQL, not {url.get_backend_name()}")
