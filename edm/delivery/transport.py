"""The one narrow interface to the SMTP relay, and its aiosmtplib implementation.

aiosmtplib's exceptions are turned into ours in exactly one place, `delivery_error`.
The transport knows nothing of campaigns or suppression: it sends what it is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib

from edm.config import SmtpSettings
from edm.delivery.pool import (
    LOGIN_CODES,
    Connection,
    Relay,
    RelayPool,
    RelaysDown,
    check_login_security,
    login_refused,
    relays_from,
)
from edm.delivery.ratelimit import RateLimiter, SystemTimer, Timer, domain_of
from edm.delivery.transaction import transaction
from edm.errors import (
    DeliveryError,
    NotAttemptedError,
    PermanentDeliveryError,
    PutBackError,
    RelayLoginError,
    RelaysUnreachableError,
    TransientDeliveryError,
)


@dataclass(frozen=True)
class Outgoing:
    """One message as it goes on the wire: envelope sender and recipient, and the RFC 5322 bytes."""

    outbox_id: int
    sender: str
    recipient: str
    data: bytes


@dataclass(frozen=True)
class Delivery:
    """The relay's answer for one message: `error` is None when it was accepted."""

    outbox_id: int
    reply: str
    error: DeliveryError | None = None
    relay: str | None = None  # host:port of the relay that answered (None: none was reached)


class Transport(Protocol):
    async def send(self, batch: Sequence[Outgoing]) -> list[Delivery]: ...

    def stop(self, grace: float) -> None:
        """Start no new message; abandon a transaction not answered within `grace` seconds."""


@dataclass(eq=False)
class _Chunk:
    """One `send` call on its connection: its timeout is brought forward when the transport stops."""

    timeout: asyncio.Timeout = field(default_factory=lambda: asyncio.timeout(None))
    on_wire: bool = False  # a transaction is open: it gets the stop's grace, not a moment more


class SmtpTransport:
    """Sends batches over a pool of reused connections to the configured relays, within the rate limits.

    Concurrent `send` calls (up to `smtp.concurrency`) each hold one connection; a batch is
    sent in the order its recipients' domain limits allow. Messages that never reached a relay
    (all relays down, a domain's limit too far ahead, stopping) come back as `NotAttemptedError`;
    once a relay refused our login, every message not yet accepted comes back as `RelayLoginError`.
    A login over plain text is refused here, before any connection (`pool.check_login_security`).

    `give_up_after`: seconds without a reachable relay after which every message comes back at
    once as `RelaysUnreachableError` (None: wait for the relays, as a worker does).
    `stop(grace)` ends the sending: waits for a connection or a rate limit end at once, a
    transaction on the wire gets `grace` seconds for its answer, then its connection is closed.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        relays: list[Relay] | None = None,
        timer: Timer | None = None,
        environ: Mapping[str, str] | None = None,
        give_up_after: float | None = None,
    ) -> None:
        self._settings = settings
        self._relays = relays if relays is not None else relays_from(settings, environ or {})
        check_login_security(self._relays)
        self._timer = timer or SystemTimer()
        self.limiter = RateLimiter(settings.rate_limit, settings.domain_limits, self._timer)
        # how long a claimed message may wait here: well inside its lease
        self.max_wait = settings.claim_lease_seconds / 4
        self._give_up_after = give_up_after
        self._pool: RelayPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chunks: set[_Chunk] = set()
        self._abandon_at: float | None = None  # loop time: stopping, open transactions end then

    @property
    def pool(self) -> RelayPool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:  # connections belong to one event loop
            self._pool = RelayPool(self._relays, self._settings, self._timer,
                                   give_up_after=self._give_up_after)
            self._loop = loop
        return self._pool

    def stop(self, grace: float) -> None:
        """Start no new message; a transaction on the wire is abandoned `grace` seconds from now."""
        now = asyncio.get_running_loop().time()
        self._abandon_at = now + grace
        for chunk in self._chunks:
            chunk.timeout.reschedule(self._abandon_at if chunk.on_wire else now)

    async def close(self) -> None:
        if self._pool is not None and self._loop is asyncio.get_running_loop():
            await self._pool.close()

    async def send(self, batch: Sequence[Outgoing]) -> list[Delivery]:
        results: dict[int, Delivery] = {}
        ready: list[tuple[float, int]] = []
        waits = self.limiter.estimate([item.recipient for item in batch])
        for index, (item, wait) in enumerate(zip(batch, waits, strict=True)):
            if wait > self.max_wait:  # the domain is booked beyond the claim: put it back for later
                error = NotAttemptedError(f"throttled: {domain_of(item.recipient)} is at its rate limit",
                                          retry_after=wait)
                results[index] = Delivery(item.outbox_id, str(error), error)
            else:
                ready.append((wait, index))
        ready.sort()
        if ready:
            await self._send_in_order(batch, [index for _, index in ready], results)
        return [results[index] for index in range(len(batch))]

    async def _send_in_order(
        self, batch: Sequence[Outgoing], order: list[int], results: dict[int, Delivery]
    ) -> None:
        pool = self.pool
        connection: Connection | None = None
        chunk = _Chunk()
        error: NotAttemptedError = PutBackError("stopping: not sent")
        try:
            async with chunk.timeout:
                self._chunks.add(chunk)
                if self._abandon_at is None:
                    connection = await pool.acquire(self.max_wait)
                for current in order:
                    if self._abandon_at is not None or connection is None:
                        break
                    if pool.refused is not None:  # another connection was refused: stop here too
                        raise pool.refused
                    await self.limiter.acquire(batch[current].recipient)
                    if not connection.client.is_connected:
                        connection = await pool.replace(connection, self.max_wait)
                    chunk.on_wire = True
                    results[current] = await self._send_one(pool, connection, batch[current])
                    chunk.on_wire = False
                    if isinstance(results[current].error, RelayLoginError):
                        break
        except RelaysDown as exc:
            kind = RelaysUnreachableError if exc.gave_up else NotAttemptedError
            error = kind(exc.reason, retry_after=0.0)
        except RelayLoginError as exc:
            error = exc
        except TimeoutError:
            if not chunk.timeout.expired():
                raise
            if chunk.on_wire and connection is not None:
                # no answer within the stop's grace: the relay keeps nothing we did not end with the
                # final dot; if the dot went out, it may have kept it and the customer may get it twice
                connection.client.close()
                abandoned = PutBackError("stopping: abandoned on the wire without an answer")
                results[current] = Delivery(batch[current].outbox_id, str(abandoned), abandoned,
                                            connection.relay.name)
        finally:
            self._chunks.discard(chunk)
            pool.release(connection)
        if pool.refused is not None:  # what this task had not sent yet goes back untouched
            error = pool.refused
        for index in order:
            results.setdefault(index, Delivery(batch[index].outbox_id, str(error), error))

    async def _send_one(self, pool: RelayPool, connection: Connection, item: Outgoing) -> Delivery:
        try:
            reply = await transaction(connection.client, item.sender, item.recipient, item.data)
        except Exception as exc:
            if connection.reused and not connection.client.is_connected:
                # an idle connection the relay had closed meanwhile: once more on a fresh one
                await pool.replace(connection, self.max_wait)
                return await self._send_one(pool, connection, item)
            connection.reused = False
            refused = _login_reply(exc)
            if refused is not None:  # 530 "authentication required" and the like: our settings
                login = pool.refuse(login_refused(connection.relay, refused))
                return Delivery(item.outbox_id, str(login), login, connection.relay.name)
            error = delivery_error(exc)
            return Delivery(item.outbox_id, str(error), error, connection.relay.name)
        connection.sent += 1
        connection.reused = False
        return Delivery(item.outbox_id, reply, relay=connection.relay.name)


# 5xx replies about our side (greeting, login, sender address): retry, never suppress the customer.
_RELAY_OR_CONFIG = (
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPSenderRefused,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPHeloError,
)


def _login_reply(exc: Exception) -> str | None:
    """The relay's reply when it refused a transaction for want of a (valid) login, else None."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code in LOGIN_CODES:
        return f"{exc.code} {exc.message}".strip()
    return None


def delivery_error(exc: Exception) -> DeliveryError:
    """Our error for anything sending can raise: 5xx about the recipient or content is permanent."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}".strip()
        if 500 <= exc.code < 600 and not isinstance(exc, _RELAY_OR_CONFIG):
            return PermanentDeliveryError(text, code=exc.code)
        return TransientDeliveryError(text, code=exc.code)
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return TransientDeliveryError(f"relay unavailable: {exc}")
    raise exc
