from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import pytest

from edm.config import SmtpSettings
from edm.delivery.transport import Outgoing, SmtpTransport, delivery_error
from edm.errors import DeliveryError, NotAttemptedError, PermanentDeliveryError, TransientDeliveryError
from tests.conftest import SmtpServer
from tests.delivery.smtp_servers import refusing_port


def _message(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "care@example.com"
    message["To"] = to
    message["Subject"] = "hello"
    message["Date"] = datetime(2026, 11, 24, tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content("hi")
    return message


def test_accepted_refused_and_deferred_recipients_over_real_smtp(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse = {
        "gone@example.com": "550 5.1.1 mailbox does not exist",
        "busy@example.com": "451 4.3.0 try again later",
    }
    batch = [Outgoing(i, "care@example.com", to, _message(to).as_bytes()) for i, to in
             enumerate(["ok@example.com", "gone@example.com", "busy@example.com", "ok2@example.com"])]
    transport = SmtpTransport(SmtpSettings(host=smtp_server.host, port=smtp_server.port))
    results = asyncio.run(transport.send(batch))
    assert [r.outbox_id for r in results] == [0, 1, 2, 3]
    assert results[0].error is None and results[3].error is None
    assert isinstance(results[1].error, PermanentDeliveryError) and results[1].error.code == 550
    assert isinstance(results[2].error, TransientDeliveryError) and results[2].error.code == 451
    assert sorted(str(m["To"]) for m in smtp_server.handler.messages) == ["ok2@example.com", "ok@example.com"]


def test_a_relay_that_is_down_defers_the_whole_batch() -> None:
    outgoing = Outgoing(7, "care@example.com", "a@example.com", _message("a@example.com").as_bytes())
    with refusing_port() as port:
        settings = SmtpSettings(host="127.0.0.1", port=port, timeout_seconds=2, claim_lease_seconds=2,
                                relay_retry_seconds=0.1)
        results = asyncio.run(SmtpTransport(settings).send([outgoing]))
    assert isinstance(results[0].error, NotAttemptedError)  # put back without counting an attempt


def _instances() -> list[Exception]:
    """One instance of every exception class aiosmtplib defines."""
    found: list[Exception] = []
    for _, cls in inspect.getmembers(aiosmtplib.errors, inspect.isclass):
        if not issubclass(cls, Exception):
            continue
        if cls is aiosmtplib.SMTPRecipientsRefused:
            found.append(cls([aiosmtplib.SMTPRecipientRefused(550, "no", "x@example.com")]))
        elif cls is aiosmtplib.SMTPRecipientRefused:
            found.append(cls(550, "no", "x@example.com"))
        elif cls is aiosmtplib.SMTPSenderRefused:
            found.append(cls(550, "no", "care@example.com"))
        elif issubclass(cls, aiosmtplib.SMTPResponseException):
            found.append(cls(554, "no"))
        else:
            found.append(cls("boom"))
    return found


@pytest.mark.parametrize("exc", _instances(), ids=lambda e: type(e).__name__)
def test_every_aiosmtplib_exception_maps_to_ours(exc: Exception) -> None:
    error = delivery_error(exc)
    assert isinstance(error, DeliveryError)
    recipient_or_content = isinstance(
        exc, aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError
    ) or type(exc) is aiosmtplib.SMTPResponseException
    assert isinstance(error, PermanentDeliveryError) == recipient_or_content
