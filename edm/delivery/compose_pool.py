"""Composing outbox rows in other processes, so the sender's event loop has a core to itself.

Rendering, link signing and MIME building are pure Python: in a thread of the sending
process they hold the GIL the event loop needs for SMTP, and the two halve each other's
speed. A `ComposePool` forks worker processes that inherit the composer, the campaigns
and the database settings (nothing is pickled but row ids going out and finished bytes
coming back); each opens its own database connections.

Crash safety is unchanged: a row is claimed before it is composed and marked `sent` only
after the relay accepted it, by the sending process; a dying composer leaves its rows
claimed, and their lease runs out like any other. Composers ignore SIGINT and SIGTERM: the
sender stops, gives back what they composed, and closes the pool; they die with it if killed.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.schema import Campaign
from edm.delivery.compose import Composer
from edm.delivery.transport import Outgoing

ComposeBatch = Callable[[Session, list[int], Mapping[str, Campaign], Composer, datetime],
                        tuple[list[Outgoing], Counter[str]]]

# What a forked worker inherited; set in the worker by `_start`, never in the sending process.
_worker: tuple[sessionmaker[Session], Mapping[str, Campaign], Composer, ComposeBatch] | None = None


def can_fork(sessions: sessionmaker[Session]) -> bool:
    """Whether worker processes can share this store: a fork, and a database another process can open."""
    bind = sessions.kw.get("bind")
    url = getattr(bind, "url", None)
    if url is None or "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


class ComposePool:
    """`processes` forked composers; `compose` returns a batch's messages and the rows it settled."""

    def __init__(
        self,
        processes: int,
        sessions: sessionmaker[Session],
        campaigns: Mapping[str, Campaign],
        composer: Composer,
        compose_batch: ComposeBatch,
    ) -> None:
        self._executor = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start,
            initargs=(sessions, campaigns, composer, compose_batch),  # inherited by the fork, not pickled
        )
        self._executor.submit(_ready)  # fork the workers now, before the caller starts threads


    async def compose(self, ids: list[int], now: datetime) -> tuple[list[Outgoing], Counter[str]]:
        return await asyncio.wrap_future(self._executor.submit(_compose, ids, now))

    def close(self) -> None:
        """Stop the composers and wait for them to exit: none outlives the run."""
        self._executor.shutdown(wait=True, cancel_futures=True)


def _start(
    sessions: sessionmaker[Session], campaigns: Mapping[str, Campaign], composer: Composer,
    compose_batch: ComposeBatch,
) -> None:
    global _worker
    _die_with_parent()
    _leave_signals_to_parent()
    gc.freeze()  # what the fork inherited is never collected here: do not scan it (nor copy its pages)
    bind = sessions.kw.get("bind")
    dispose = getattr(bind, "dispose", None)
    if dispose is not None:
        dispose(close=False)  # the parent's pooled connections stay the parent's
    _worker = (sessions, campaigns, composer, compose_batch)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """A sender killed with SIGKILL must not leave its composers behind: they hold forked copies of
    its database sockets, so PostgreSQL would keep the dead sender's open claim (and its row locks,
    which SKIP LOCKED then skips for ever) until they exit. Linux only; elsewhere they linger."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the prctl
        os._exit(1)


def _leave_signals_to_parent() -> None:
    """Ctrl-C reaches the whole process group, and a service manager may SIGTERM every process:
    a composer ignores both and lets its sender stop it (`close`), after what is composed is used.
    It also drops the sender's signal wake-up socket, inherited by the fork."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _ready() -> None:
    """Nothing: submitting it makes the executor fork its workers."""


def _compose(ids: list[int], now: datetime) -> tuple[list[Outgoing], Counter[str]]:
    if _worker is None:
        raise RuntimeError("not a compose worker")
    sessions, campaigns, composer, compose_batch = _worker
    with sessions.begin() as session:
        return compose_batch(session, ids, campaigns, composer, now)
