"""Batched event ingest: many requests' opens and clicks, one transaction (group commit).

Each request puts its hit on an in-process queue and waits until the batch holding it is
committed; a single writer takes everything queued (up to `batch_size`, once the requests
that arrived together are in) and writes it in one transaction while the next batch
gathers (on SQLite in the loop itself, elsewhere in a thread). So a busy server writes
hundreds of events per transaction, an idle one answers as fast as one write, and a
response is only sent for an event already stored: nothing accepted is lost, even if the
process is killed.
Closing (the ASGI lifespan's shutdown) writes whatever is still queued before it returns.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edm.tracking.events import Hit, record_hits
from edm.tracking.machine import DEFAULT_RULES, MachineRules

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500


class IngestError(Exception):
    """The batch holding an event could not be stored (the database failed): not accepted."""


class EventWriter:
    """Queues hits from request handlers and stores them in batches from one writer."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        rules: MachineRules = DEFAULT_RULES,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._sessions = sessions
        # SQLite is a local file: a batch takes microseconds an event, less than the hop to a
        # thread and back. Other databases are over the network: their writes go to a thread.
        bind = sessions.kw.get("bind")
        self._inline = getattr(getattr(bind, "dialect", None), "name", None) == "sqlite"
        self._rules = rules
        self._batch_size = batch_size
        self._pending: list[tuple[Hit, asyncio.Future[bool]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self.batches = 0  # transactions written, for /healthz and the tests
        self.stored = 0

    @property
    def depth(self) -> int:
        """Hits waiting for the next transaction."""
        return len(self._pending)

    async def record(self, hit: Hit) -> bool:
        """Store `hit`; True once committed, False when refused (unknown customer, someone
        else's mail). Raises IngestError when the database fails, RuntimeError once closed."""
        if self._closing:
            raise RuntimeError("the event writer is closed")
        self._start()
        assert self._wakeup is not None
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((hit, future))
        self._wakeup.set()
        # a client that hangs up cancels only its wait: the hit stays in the batch and is stored
        return await future

    async def aclose(self) -> None:
        """Write everything queued, then stop; a later `record` starts afresh (in a new loop)."""
        self._closing = True
        try:
            if self._task is not None:
                assert self._wakeup is not None
                self._wakeup.set()
                await self._task
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
            self._task = self._wakeup = self._executor = None
            self._closing = False

    def _start(self) -> None:
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edm-events")
            self._task = asyncio.get_running_loop().create_task(self._run(), name="edm-event-writer")

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._gather()
                batch = self._pending[: self._batch_size]
                del self._pending[: self._batch_size]
                try:
                    hits = [h for h, _ in batch]
                    results = (self._write(hits) if self._inline
                               else await loop.run_in_executor(self._executor, self._write, hits))
                except Exception as exc:  # the batch fails; the writer goes on with the next
                    log.error("events not stored: count=%d error=%s", len(batch), type(exc).__name__)
                    failure = IngestError(f"{len(batch)} events not stored") if isinstance(
                        exc, SQLAlchemyError) else exc
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(failure)
                    continue
                self.batches += 1
                self.stored += sum(results)
                for (_, future), stored in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(stored)
            if self._closing:
                return

    async def _gather(self) -> None:
        """Let requests that arrived together join the batch: yield to the loop while the queue
        still grows (requests already received are queued within a turn), then write. An idle
        server writes a lone event at once; a busy one, hundreds per transaction."""
        while len(self._pending) < self._batch_size and not self._closing:
            before = len(self._pending)
            # two turns: a request read in one turn is a task that queues its hit in the next
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            if len(self._pending) == before:
                return

    def _write(self, hits: list[Hit]) -> list[bool]:
        with self._sessions.begin() as session:
            return record_hits(session, hits, self._rules)
