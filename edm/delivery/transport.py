"""The one narrow interface to the SMTP relay, and its aiosmtplib implementation.

aiosmtplib's exceptions are turned into ours in exactly one place, `delivery_error`.
The transport knows nothing of campaigns or suppression: it sends what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import aiosmtplib

from edm.config import SmtpSettings
from edm.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError


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


class Transport(Protocol):
    async def send(self, batch: Sequence[Outgoing]) -> list[Delivery]: ...


class SmtpTransport:
    """Sends a batch over one reused SMTP connection."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, batch: Sequence[Outgoing]) -> list[Delivery]:
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            use_tls=settings.use_tls,
            start_tls=settings.starttls or None,
            timeout=settings.timeout_seconds,
            username=settings.username.get_secret_value() if settings.username else None,
            password=settings.password.get_secret_value() if settings.password else None,
        )
        try:
            await client.connect()
        except Exception as exc:
            error = delivery_error(exc)
            return [Delivery(item.outbox_id, str(error), error) for item in batch]
        results: list[Delivery] = []
        try:
            for item in batch:
                results.append(await self._send_one(client, item))
                if isinstance(results[-1].error, TransientDeliveryError) and not client.is_connected:
                    error = results[-1].error
                    results += [Delivery(rest.outbox_id, str(error), error) for rest in batch[len(results):]]
                    break
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except aiosmtplib.SMTPException:
                    client.close()
        return results

    async def _send_one(self, client: aiosmtplib.SMTP, item: Outgoing) -> Delivery:
        try:
            _, reply = await client.sendmail(item.sender, [item.recipient], item.data)
        except Exception as exc:
            error = delivery_error(exc)
            return Delivery(item.outbox_id, str(error), error)
        return Delivery(item.outbox_id, reply)


# 5xx replies about our side (greeting, login, sender address): retry, never suppress the customer.
_RELAY_OR_CONFIG = (
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPSenderRefused,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPHeloError,
)


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
