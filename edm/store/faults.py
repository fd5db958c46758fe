"""Database faults as one line a person can act on: the cause, and what to check or do.

A driver's error (SQLite's "database or disk is full", psycopg's "connection refused ... Is the
server running ...") is many lines of library detail; `store_error` names the database (password
masked) and the cause instead. Which errors count as faults of the database rather than bugs is
`is_store_fault`: an integrity or data error is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
import sqlite3

from sqlalchemy import exc as sa
from sqlalchemy.engine import make_url

from edm.errors import StoreError

# (what the driver says, lower-cased substrings) -> what it means and what to do; first match wins
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("database or disk is full", "no space left", "disk full", "could not extend file", "diskfull"),
     "the disk is full: free space (or move the database) and run again"),
    (("readonly database", "read-only", "read only"),
     "the database is read-only: check the permissions of the file and of its folder "
     "(SQLite writes a journal beside it), or the mount"),
    (("disk i/o error", "input/output error", "i/o error"),
     "the disk reported an I/O error: check the disk and its file system (e.g. dmesg)"),
    (("database is locked", "lock timeout", "could not obtain lock", "deadlock detected"),
     "the database stayed locked by another process too long: let it finish (or stop it) and run again"),
    (("unable to open database file",),
     "cannot open the database file: check that its folder exists and is writable"),
    (("file is not a database", "database disk image is malformed"),
     "the file is not a healthy SQLite database: check the path, or restore it from a backup"),
    (("password authentication failed", "authentication failed", "no password supplied"),
     "the server refused the login: check the user and password (e.g. ~/.pgpass)"),
    (("connection refused", "could not translate host name", "name or service not known",
      "nodename nor servname", "no route to host", "network is unreachable", "timeout expired", "timed out",
      "could not connect", "connection to server"),
     "cannot connect ({found}): check the host and port in the URL, and that the server is running "
     "and reachable"),
    (("server closed the connection", "terminating connection", "connection is closed", "connection lost",
      "ssl syscall", "eof detected", "consuming input failed", "connection not open"),
     "the connection to the database was lost: check the server and the network, then run again"),
    (("does not exist",), "the server has no such database or user: check the URL's user and database name"),
    (("permission denied",), "the database user may not do this: check its grants"),
)


def mask_url(url: str) -> str:
    """`url` without its password (`***`), for messages and output."""
    try:
        parsed = make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except (sa.ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def is_store_fault(error: BaseException) -> bool:
    """Whether `error` is the database failing (disk, permissions, connection, locks), not a bug."""
    if isinstance(error, sa.DBAPIError):
        if isinstance(error, sa.OperationalError | sa.InterfaceError | sa.InternalError):
            return True
        if isinstance(error, sa.IntegrityError | sa.DataError | sa.NotSupportedError):
            return False
        return type(error) is sa.DatabaseError or "permission denied" in str(error.orig).lower()
    return type(error) in (sqlite3.OperationalError, sqlite3.DatabaseError, sqlite3.InterfaceError)


def store_error(error: BaseException, url: str | None) -> StoreError:
    """One line: the database (masked), the cause and what to do; the driver's first line if unknown."""
    detail = str(error.orig) if isinstance(error, sa.DBAPIError) else str(error)
    lowered = detail.lower()
    found = next(((needle, advice) for needles, advice in _CAUSES for needle in needles if needle in lowered),
                 None)
    if found is not None:
        cause = found[1].replace("{found}", found[0])
    else:
        first = next((line.strip() for line in detail.splitlines() if line.strip()), type(error).__name__)
        cause = f"{first} (the database failed; nothing more is known)"
    where = f"database {mask_url(url)}" if url else "the database"
    return StoreError(f"{where}: {cause}")
