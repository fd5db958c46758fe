"""The send loop, pipelined: claim and compose the next batch while the current one is on the wire.

One producer claims due rows and has them composed (in `smtp.compose_processes` forked
processes, `compose_pool`, else a worker thread: the database and the templates are blocking
work); `concurrency` consumer tasks each hand small chunks to the transport over their own
connection; a recorder writes the answers in bulk every few hundred milliseconds, or at once
when every message out has its answer. The queue between them is short, so at most a few
batches are claimed and not yet recorded: that bounds memory, and what a crash can send twice.

Suppression is checked again at send time, so an unsubscribe or a hard bounce that
arrives after planning still stops the mail.

Failures are loud: the summary groups the rows that failed in this run by campaign and
reason (`retry.failure_reason`), and a relay that refuses our login stops the run at once
(every claimed row goes back untouched) and `send_due` raises its `RelayLoginError`.

Stopping (`stop` set, or no relay reachable for `smtp.give_up_after_seconds` in a run that may
give up): nothing more is claimed, a transaction on the wire gets `smtp.stop_timeout_seconds`
for its answer, every answer in hand is recorded (an accepted message is always `sent`), and
every other claimed row goes back as it was (queued, no attempt counted, no lease left).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.addresses import canonical_address
from edm.campaigns.direct import call_data
from edm.campaigns.events import cancelled
from edm.campaigns.schema import Campaign
from edm.clock import Clock
from edm.config import DeliverabilitySettings, SmtpSettings
from edm.consent.topics import topics_in
from edm.delivery.compose import Composer
from edm.delivery.compose_pool import ComposePool, can_fork
from edm.delivery.health import WindowStats, add, is_bulk
from edm.delivery.holds import ClaimRules, Pause, check_scopes, claim_parts, scopes_for, warmup_of
from edm.delivery.outbox import claim_batch, failure_reasons, next_due, record_results, settle
from edm.delivery.retry import Outcome, RetryPolicy, failure_reason, outcome
from edm.delivery.transport import Delivery, Outgoing, Transport
from edm.delivery.watch import Watch
from edm.errors import NotAttemptedError, PutBackError, RelayLoginError, RelaysUnreachableError, TemplateError
from edm.store import Customer, CustomerProfile, OutboxMessage
from edm.suppression import suppressed_keys

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2  # the longest an answer waits to be recorded


class Until(Enum):
    """When `send_due` returns."""

    NOTHING_DUE = "nothing due"  # once every due row has had its turn (a campaign run, tests)
    DRAINED = "drained"  # once no row is queued, deferred or sending any more (`edm send`)
    STOPPED = "stopped"  # only when `stop` is set (`edm worker`)


@dataclass
class SendSummary:
    sent: int = 0
    deferred: int = 0
    bounced: int = 0
    suppressed: int = 0
    failed: int = 0
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # (campaign, reason): rows
    unreachable: str | None = None  # why the run gave up: no relay reachable (the rest was put back)
    paused: list[Pause] = field(default_factory=list)  # scopes this run paused (edm.delivery.health)
    held: list[Pause] = field(default_factory=list)  # at the end: every pause holding mail back
    capped: dict[str, int] = field(default_factory=dict)  # at the end: provider -> warm-up cap reached

    def add(self, counts: Counter[str]) -> None:
        self.sent += counts["sent"]
        self.deferred += counts["deferred"]
        self.bounced += counts["bounced"]
        self.failed += counts["failed"]


def retry_policy(settings: SmtpSettings) -> RetryPolicy:
    return RetryPolicy(
        base=timedelta(seconds=settings.retry_after_seconds),
        cap=timedelta(seconds=settings.retry_max_delay_seconds),
        max_age=timedelta(hours=settings.max_retry_hours),
        max_attempts=settings.max_attempts,
    )


async def send_due(
    sessions: sessionmaker[Session],
    *,
    campaigns: Mapping[str, Campaign],
    composer: Composer,
    transport: Transport,
    settings: SmtpSettings,
    clock: Clock,
    until: Until = Until.NOTHING_DUE,
    stop: asyncio.Event | None = None,
    progress: Callable[[SendSummary], None] | None = None,
    rng: random.Random | None = None,
    deliverability: DeliverabilitySettings | None = None,
) -> SendSummary:
    """Send due outbox rows until `until` holds, or `stop` is set (then see the module's "Stopping").

    Paused campaigns (and bulk mail, when bulk sending is paused) are not claimed, nor bulk mail
    over a provider's warm-up cap for the day; after each batch of answers, the campaigns answered
    are judged by `deliverability` and paused when over its limits (edm.delivery.health). Held
    rows stay queued; a run that drains the outbox does not wait for them (`SendSummary.held`).

    Raises `RelayLoginError` when a relay refused the login: sending stopped at once, and what
    was claimed went back untouched. Unless `until` is `STOPPED`, a `transport` giving up on the
    relays (`RelaysUnreachableError`) ends the run the same way, with the reason in
    `SendSummary.unreachable`.
    """
    run = _Run(sessions, campaigns, composer, transport, settings, clock, stop or asyncio.Event(),
               progress, rng or random.Random(),  # noqa: S311 (retry jitter, not a secret)
               deliverability or DeliverabilitySettings())
    summary = await run.go(until)
    if run.refused is not None:
        raise run.refused
    return summary


class _Run:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        campaigns: Mapping[str, Campaign],
        composer: Composer,
        transport: Transport,
        settings: SmtpSettings,
        clock: Clock,
        stop: asyncio.Event,
        progress: Callable[[SendSummary], None] | None,
        rng: random.Random,
        deliverability: DeliverabilitySettings,
    ) -> None:
        self.sessions, self.campaigns, self.composer = sessions, campaigns, composer
        self.deliverability = deliverability
        # service mail is never held by a bulk pause or a warm-up cap, and is claimed before anything
        # else: it never waits behind bulk (outbox.claim_batch)
        service = frozenset(name for name, campaign in campaigns.items() if not is_bulk(campaign))
        self.rules = ClaimRules(service_campaigns=service)
        self.bulk_campaigns = sorted(name for name in campaigns if name not in service)
        self.watch = Watch(deliverability)
        self.transport, self.settings, self.clock = transport, settings, clock
        self.stop, self.progress, self.rng = stop, progress, rng
        self.policy = retry_policy(settings)
        self.lease = timedelta(seconds=settings.claim_lease_seconds)
        self.summary = SendSummary()
        self.queue: asyncio.Queue[list[Outgoing] | None] = asyncio.Queue(maxsize=2 * settings.concurrency)
        self.answers: list[Delivery] = []
        self.answered = asyncio.Event()
        self.in_flight = 0  # claimed and composed, not yet recorded
        self.idle = asyncio.Event()
        self.idle.set()
        self.put_back: set[int] = set()  # rows that never reached a relay in this run
        self.halted = asyncio.Event()  # stopping: claim nothing more, hand nothing more out
        self.closing = False
        self.composers: ComposePool | None = None
        self.refused: RelayLoginError | None = None  # a relay refused our login: the run stops

    def _start_composers(self) -> None:
        if self.settings.compose_processes and can_fork(self.sessions):
            self.composers = ComposePool(self.settings.compose_processes, self.sessions, self.campaigns,
                                         self.composer, _compose_batch)

    async def go(self, until: Until) -> SendSummary:
        self._start_composers()  # first: fork before this run starts any thread
        try:
            if self.deliverability.warmup is not None:
                self.rules = await asyncio.to_thread(self._with_warmup)
            summary = await self._send(until)
            await asyncio.to_thread(self._note_held)
            return summary
        finally:  # however the run ends, no composer process outlives it
            if self.composers is not None:
                await asyncio.to_thread(self.composers.close)

    async def _send(self, until: Until) -> SendSummary:
        if self.stop.is_set():
            self._halt()
        watcher = asyncio.create_task(self._halt_on_stop())
        consumers = [asyncio.create_task(self._consume()) for _ in range(self.settings.concurrency)]
        recorder = asyncio.create_task(self._record_loop())
        try:
            await self._produce(until)
        finally:
            watcher.cancel()
            await self._put_back_queued("shutting down")
            for _ in consumers:
                await self.queue.put(None)
            await asyncio.gather(*consumers, return_exceptions=True)
            self.closing = True  # ends the recorder (no cancel: 3.11's wait_for can swallow it)
            self.answered.set()
            await recorder
            await self._flush()
            close = getattr(self.transport, "close", None)
            if close is not None:
                await close()
        return self.summary

    async def _halt_on_stop(self) -> None:
        await self.stop.wait()
        log.info("stopping: claiming nothing more, %.0f s for what is on the wire",
                 self.settings.stop_timeout_seconds)
        self._halt()

    def _halt(self) -> None:
        if not self.halted.is_set():
            self.halted.set()
            self.transport.stop(self.settings.stop_timeout_seconds)

    async def _produce(self, until: Until) -> None:
        """Claim and compose up to `depth` batches ahead (one per compose process), hand them out in order."""
        depth = self.settings.compose_processes if self.composers is not None else 1
        pending: deque[asyncio.Task[tuple[list[int], list[Outgoing]]]] = deque()
        try:
            await self._produce_ahead(until, pending, max(depth, 1))
        finally:
            while pending:  # stopping: what was claimed but not handed out goes back untouched
                task = pending.popleft()
                with contextlib.suppress(Exception):
                    ids, _ = await task
                    await self._release(ids, "shutting down")

    async def _produce_ahead(
        self, until: Until, pending: deque[asyncio.Task[tuple[list[int], list[Outgoing]]]], depth: int
    ) -> None:
        while not self.halted.is_set():
            # in one pass over what is due, a row that never reached a relay gets no second turn
            skip = self.put_back if until is Until.NOTHING_DUE else set()
            while len(pending) < depth:
                claimed = await asyncio.to_thread(self._claim, self.clock.now())
                if not claimed:
                    break
                pending.append(asyncio.create_task(self._compose_claimed(claimed, skip)))
            if not pending:
                await self.idle.wait()  # answers still on their way may make more rows due
                if until is Until.NOTHING_DUE or not await self._wait_for_more(until):
                    return
                continue
            ids, outgoing = await pending.popleft()
            if self.halted.is_set():
                await self._release(ids, "shutting down")
                return
            if skip & set(ids):
                await self._release(sorted(skip & set(ids)), "no relay reachable in this run")
                ids = [i for i in ids if i not in skip]
            if not ids:
                continue
            self._queue_chunks(outgoing)
            await self._put_all(outgoing)
            log.info("claimed=%d sent=%d deferred=%d bounced=%d", len(ids), self.summary.sent,
                     self.summary.deferred, self.summary.bounced)

    def _queue_chunks(self, outgoing: list[Outgoing]) -> None:
        self.in_flight += len(outgoing)
        if self.in_flight:
            self.idle.clear()

    async def _put_all(self, outgoing: list[Outgoing]) -> None:
        """Queue `outgoing` in chunks; when stopping meanwhile, what is not queued yet is given back."""
        size = max(1, math.ceil(len(outgoing) / self.settings.concurrency))
        for start in range(0, len(outgoing), size):
            chunk = outgoing[start : start + size]
            if not self.queue.full():
                self.queue.put_nowait(chunk)
            elif not await self._until_queued(chunk):
                error = NotAttemptedError("shutting down")
                self._answer([Delivery(item.outbox_id, str(error), error) for item in outgoing[start:]])
                return

    async def _until_queued(self, chunk: list[Outgoing]) -> bool:
        """Wait for room for `chunk` and queue it; False (not queued) if the run halts first."""
        put = asyncio.ensure_future(self.queue.put(chunk))
        halted = asyncio.ensure_future(self.halted.wait())
        await asyncio.wait((put, halted), return_when=asyncio.FIRST_COMPLETED)
        halted.cancel()
        if put.done():
            return True
        put.cancel()
        return False

    async def _wait_for_more(self, until: Until) -> bool:
        """Sleep until a row may be due again; False when the run is over."""
        if until is Until.DRAINED:
            with self.sessions() as session:
                due = next_due(session, self.clock.now(), self.rules)
            if due is None:
                return False
            pause = min(max((due - self.clock.now()).total_seconds(), 0.05), self.settings.poll_seconds)
        else:
            pause = self.settings.poll_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.halted.wait(), pause)
        return not self.halted.is_set()

    async def _compose_claimed(self, ids: list[int], skip: set[int]) -> tuple[list[int], list[Outgoing]]:
        now = self.clock.now()
        fresh = [i for i in ids if i not in skip]
        if not fresh:
            return ids, []
        if self.composers is not None:
            outgoing, settled = await self.composers.compose(fresh, now)
        else:
            outgoing, settled = await asyncio.to_thread(self._compose, fresh, now)
        self.summary.suppressed += settled["suppressed"]
        self.summary.failed += settled["failed"]
        if settled["failed"]:
            composed = {item.outbox_id for item in outgoing}
            await self._note_failures([i for i in fresh if i not in composed])
        return ids, outgoing

    def _claim(self, now: datetime) -> list[int]:
        with self.sessions.begin() as session:
            return claim_batch(session, now, self.settings.batch_size, self.lease, self.rules,
                               first=self.rules.service_campaigns)

    def _with_warmup(self) -> ClaimRules:
        with self.sessions() as session:
            warmup = warmup_of(session, self.deliverability.warmup, self.clock.now().date())
        return ClaimRules(self.rules.service_campaigns, warmup)

    def _note_held(self) -> None:
        """What holds mail back as the run ends, for its summary."""
        with self.sessions.begin() as session:
            held = claim_parts(session, self.rules, self.clock.now(), self.settings.batch_size)[1]
        self.summary.held, self.summary.capped = held.paused, held.capped

    def _compose(self, ids: list[int], now: datetime) -> tuple[list[Outgoing], Counter[str]]:
        with self.sessions.begin() as session:
            return _compose_batch(session, ids, self.campaigns, self.composer, now)

    async def _consume(self) -> None:
        while (chunk := await self.queue.get()) is not None:
            try:
                deliveries = await self.transport.send(chunk)
            except Exception as exc:  # a bug or an unmapped error: put the chunk back, keep going
                log.exception("transport failed on a chunk of %d", len(chunk))
                error = NotAttemptedError(f"transport error: {exc}")
                deliveries = [Delivery(item.outbox_id, str(error), error) for item in chunk]
            refused = next((d.error for d in deliveries if isinstance(d.error, RelayLoginError)), None)
            if refused is not None and self.refused is None:
                self.refused = refused  # our settings are wrong: claim nothing more, put the rest back
                self.stop.set()
            self._answer(deliveries)

    def _answer(self, deliveries: list[Delivery]) -> None:
        self.answers.extend(deliveries)
        gave_up = next((d for d in deliveries if isinstance(d.error, RelaysUnreachableError)), None)
        if gave_up is not None and self.summary.unreachable is None:
            log.info("giving up: %s", gave_up.reply)
            self.summary.unreachable = gave_up.reply
            self._halt()
        # a batch's worth, or everything that is out: then nothing else is coming to wait for
        if len(self.answers) >= min(self.settings.batch_size, self.in_flight):
            self.answered.set()

    async def _record_loop(self) -> None:
        while not self.closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.answered.wait(), FLUSH_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        self.answered.clear()
        answers, self.answers = self.answers, []
        if not answers:
            return
        counts = await asyncio.to_thread(self._record, answers)
        self.summary.add(counts)
        if counts["failed"]:
            await self._note_failures([d.outbox_id for d in answers if d.error is not None])
        self.put_back.update(d.outbox_id for d in answers if isinstance(d.error, NotAttemptedError))
        self.in_flight -= len(answers)
        if self.in_flight <= 0:
            self.idle.set()
        if self.progress is not None:
            self.progress(self.summary)

    def _record(self, answers: list[Delivery]) -> Counter[str]:
        with self.sessions.begin() as session:
            counts = record_results(session, answers, self.clock.now(), self.policy, self.rng)
        if counts["sent"] or counts["bounced"]:
            self._check_health(answers)
        return counts

    def _check_health(self, answers: list[Delivery]) -> None:
        """Judge the answered campaigns (and bulk mail): from this run's estimate, reading the store
        when it matters (edm.delivery.watch); pause those over the limits."""
        answered = [d for d in answers if not isinstance(d.error, NotAttemptedError)]
        with self.sessions.begin() as session:
            campaign_of = dict(session.execute(
                select(OutboxMessage.id, OutboxMessage.campaign)
                .where(OutboxMessage.id.in_([d.outbox_id for d in answered]))).all())
            by_campaign: dict[str, WindowStats] = {}
            for delivery in answered:
                kind = outcome(delivery.error)
                name = campaign_of.get(delivery.outbox_id)
                if name is not None and kind in (Outcome.SENT, Outcome.BOUNCED):
                    by_campaign[name] = add(by_campaign.get(name, WindowStats(0, 0, 0)),
                                            WindowStats(1, int(kind is Outcome.BOUNCED), 0))
            scopes = scopes_for(by_campaign, self.rules.service_campaigns, self.bulk_campaigns)
            started = time.monotonic()
            due = self.watch.due(scopes, by_campaign, started)
            if not due:
                return
            paused, judged = check_scopes(session, {s: scopes[s] for s in due}, self.deliverability,
                                          self.clock.now())
        self.watch.read(judged, started)
        self.summary.paused += paused

    async def _note_failures(self, ids: list[int]) -> None:
        """Add the rows among `ids` that are now `failed` to the summary, by campaign and reason."""
        def read() -> list[tuple[str, str | None]]:
            with self.sessions() as session:
                return [pair for start in range(0, len(ids), 500)
                        for pair in failure_reasons(session, ids[start:start + 500])]

        for campaign, reply in await asyncio.to_thread(read):
            self.summary.failures[campaign, failure_reason(reply)] += 1

    async def _release(self, ids: list[int], reason: str) -> None:
        """Give claimed rows back untouched: not sent, no attempt counted, not in the summary."""
        error = PutBackError(reason)
        await asyncio.to_thread(self._record, [Delivery(i, reason, error) for i in ids])

    async def _put_back_queued(self, reason: str) -> None:
        """Rows composed but not handed to a connection yet go back unattempted (on stop or error)."""
        error = PutBackError(reason)
        while not self.queue.empty():
            chunk = self.queue.get_nowait()
            if chunk:
                self._answer([Delivery(item.outbox_id, reason, error) for item in chunk])


def _compose_batch(
    session: Session,
    ids: list[int],
    campaigns: Mapping[str, Campaign],
    composer: Composer,
    now: datetime,
) -> tuple[list[Outgoing], Counter[str]]:
    """The messages for `ids`, and how many rows were settled instead (suppressed, failed).

    Reads plain column tuples in one query: building ORM objects cost more than rendering.
    """
    rows = session.execute(
        select(*_ROW_COLUMNS, *_CUSTOMER_COLUMNS, *_PROFILE_COLUMNS)
        .join(Customer, Customer.id == OutboxMessage.customer_id)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    ).all()
    if ids != sorted(ids):  # the claim's order: service mail first
        position = {outbox_id: at for at, outbox_id in enumerate(ids)}
        rows = sorted(rows, key=lambda values: position[values[0]])
    # the mailbox, whatever the capitals of the address queued (edm.addresses)
    suppressed = suppressed_keys(session, [values[_TO_AT] for values in rows])
    outgoing: list[Outgoing] = []
    settled: Counter[str] = Counter()
    for values in rows:
        row = OutboxRow._make(values[:_CUSTOMER_AT])
        customer = CustomerRow._make(values[_CUSTOMER_AT:_PROFILE_AT])
        profile = ProfileRow._make(values[_PROFILE_AT:]) if values[_PROFILE_AT] is not None else None
        campaign = campaigns.get(row.campaign)
        if canonical_address(row.to_address) in suppressed:
            settle(session, row.id, "suppressed", "address is on the suppression list")
            settled["suppressed"] += 1
        elif campaign is None:
            settle(session, row.id, "failed", f"campaign {row.campaign!r} is no longer defined")
            settled["failed"] += 1
        elif campaign.topic is not None and campaign.topic in topics_in(customer.topics_off):
            # turned off on the preference page after the mail was planned
            settle(session, row.id, "cancelled", f"the customer turned off the topic {campaign.topic!r}")
            settled["cancelled"] += 1
        elif cancelled(session, campaign, customer.id, row.occurrence, now):  # the order came after planning
            settle(session, row.id, "cancelled", f"the customer did {campaign.event.unless.event} "  # type: ignore[union-attr]
                   "after the triggering event")
            settled["cancelled"] += 1
        else:
            try:
                data = call_data(session, row.key) if campaign.api else None
                message = composer.compose(row, customer, profile, campaign, now, data=data)
            except TemplateError as exc:
                settle(session, row.id, "failed", str(exc))
                settled["failed"] += 1
                log.info("outbox=%d render failed: %s", row.id, exc)  # the run's summary groups them
                continue
            outgoing.append(Outgoing(row.id, message.sender, row.to_address, message.data))
    return outgoing, settled


class OutboxRow(NamedTuple):
    """An outbox row as composing reads it (`compose.OutboxFields`), one column each."""

    id: int
    key: str
    campaign: str
    step: int
    variant: str | None
    to_address: str
    occurrence: date


class CustomerRow(NamedTuple):
    """A customer as composing reads it (`compose.CustomerFields`), one column each."""

    id: int
    name: str
    contact_name: str | None
    kind: str
    industry: str | None
    locale: str
    account_manager: str | None
    account_manager_email: str | None
    personalised: bool = True  # False: PIPL Art. 24, the generic message (edm.delivery.generic)
    topics_off: str | None = None  # the topics turned off (preference page): their mail is cancelled


class ProfileRow(NamedTuple):
    """A profile as composing reads it (`compose.ProfileFields`); value_tier first: NULL when none."""

    value_tier: str
    lifecycle_stage: str
    order_count: int
    dropped_lines: str | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    expected_interval_days: float | None
    next_order_expected_at: datetime | None


def _columns(model: type[Any], names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(model, name) for name in names)


_ROW_COLUMNS = _columns(OutboxMessage, OutboxRow._fields)
_CUSTOMER_COLUMNS = _columns(Customer, CustomerRow._fields)
_PROFILE_COLUMNS = _columns(CustomerProfile, ProfileRow._fields)  # value_tier first: NULL when none
_CUSTOMER_AT = len(_ROW_COLUMNS)
_PROFILE_AT = _CUSTOMER_AT + len(_CUSTOMER_COLUMNS)
_TO_AT = OutboxRow._fields.index("to_address")
