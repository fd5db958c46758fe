"""One mail transaction (MAIL, RCPT, DATA) on an open aiosmtplib session, at the cost of the wire.

`aiosmtplib.SMTP.sendmail` parses both addresses with the stdlib and runs two regular
expressions over the whole message, twice: a quarter of the sending process's time. On a
session past its greeting, with plain addresses and CRLF-only bytes (what edm builds), the
commands are written directly instead, under one timer per transaction instead of one per reply.

When the relay offers PIPELINING (RFC 2920: Postfix and most relays do), MAIL, RCPT and DATA
go out in one write and their three replies are read together: two round trips per message
instead of four, for us and for the relay. The replies are read by a small protocol that stands
in for aiosmtplib's for the length of the transaction (aiosmtplib reads one reply per command).

Either way every reply is checked, and a refusal raises what sendmail raises (then the envelope
is reset, as sendmail does), so `transport.delivery_error` maps it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol
from aiosmtplib.response import SMTPResponse
from aiosmtplib.status import SMTPStatus

_PLAIN_ADDRESS = re.compile(r"[^\x00-\x20<>()\[\],;:\"\\@\x7f]+@[^\x00-\x20<>()\[\],;:\"\\@\x7f]+")
_MAX_REPLY = 64 * 1024  # a relay that sends more than this without ending a reply is broken


async def transaction(client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes) -> str:
    """Send `message` from `sender` to `recipient`; the relay's reply to the data.

    Raises what `aiosmtplib.SMTP.sendmail` raises for the same answers.
    """
    protocol = client.protocol
    if (protocol is None or client.is_ehlo_or_helo_needed or not _plain(sender) or not _plain(recipient)
            or not _crlf_only(message)):
        return (await client.sendmail(sender, [recipient], message))[1]
    data = message.replace(b"\r\n.", b"\r\n..")  # dot-stuffing (RFC 5321 4.5.2)
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    size = b" SIZE=%d" % len(data) if client.supports_extension("size") else b""
    commands = [b"MAIL FROM:<" + sender.encode() + b">" + size, b"RCPT TO:<" + recipient.encode() + b">"]
    try:
        async with asyncio.timeout(client.timeout):  # one timer for the transaction, not one per reply
            if client.supports_extension("pipelining"):
                return await _pipelined(client, protocol, commands, data, sender, recipient)
            return await _one_by_one(client, protocol, commands, data, sender, recipient)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
            await client.rset()
        raise
    except TimeoutError as exc:
        client.close()  # the session is out of step with the relay
        raise aiosmtplib.SMTPReadTimeoutError("timed out waiting for the relay") from exc


async def _one_by_one(client: aiosmtplib.SMTP, protocol: SMTPProtocol, commands: list[bytes], data: bytes,
                      sender: str, recipient: str) -> str:
    replies = []
    for command in [*commands, b"DATA"]:
        reply = await client.execute_command(command, timeout=None)
        replies.append(reply)
        _check_envelope(replies, sender, recipient)
    try:
        protocol.write(data + b".\r\n")
        reply = await protocol.read_response(timeout=None)
    except aiosmtplib.SMTPServerDisconnected:
        client.close()  # as execute_command does
        raise
    return _check_data(reply)


async def _pipelined(client: aiosmtplib.SMTP, protocol: SMTPProtocol, commands: list[bytes], data: bytes,
                     sender: str, recipient: str) -> str:
    transport = protocol.transport
    if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    replies = _Replies(protocol)
    transport.set_protocol(replies)
    try:
        transport.write(b"\r\n".join([*commands, b"DATA", b""]))
        envelope = [await replies.next(), await replies.next(), await replies.next()]
        if envelope[2].code == SMTPStatus.start_input and not _accepted(envelope[:2]):
            # a relay that took DATA with no recipient: end the empty message, keep the refusal
            transport.write(b".\r\n")
            await replies.next()
        _check_envelope(envelope, sender, recipient)
        transport.write(data + b".\r\n")
        return _check_data(await replies.next())
    except aiosmtplib.SMTPServerDisconnected:
        client.close()
        raise
    finally:
        if not transport.is_closing():
            transport.set_protocol(protocol)


class _Replies(asyncio.Protocol):
    """Reads every reply that arrives, several per packet; hands a lost connection on to aiosmtplib."""

    def __init__(self, inner: SMTPProtocol) -> None:
        self._inner = inner
        self._buffer = bytearray()
        self._replies: deque[SMTPResponse] = deque()
        self._lost: aiosmtplib.SMTPServerDisconnected | None = None
        self._waiter: asyncio.Future[None] | None = None

    async def next(self) -> SMTPResponse:
        while not self._replies:
            if self._lost is not None:
                raise self._lost
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            while (reply := _take_reply(self._buffer)) is not None:
                self._replies.append(reply)
        except ValueError as exc:
            self._lost = aiosmtplib.SMTPServerDisconnected(str(exc))
        self._wake()

    def eof_received(self) -> bool:
        self._lost = aiosmtplib.SMTPServerDisconnected("Unexpected EOF received")
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = aiosmtplib.SMTPServerDisconnected(f"Connection lost: {exc or 'closed'}")
        self._wake()
        self._inner.connection_lost(exc)  # aiosmtplib learns the session is gone

    def pause_writing(self) -> None:  # flow control stays aiosmtplib's to track
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _take_reply(buffer: bytearray) -> SMTPResponse | None:
    """The first complete (possibly multi-line) reply in `buffer`, removed from it; None if incomplete."""
    offset, lines = 0, []
    while (end := buffer.find(b"\n", offset)) != -1:
        line = bytes(buffer[offset:end + 1])
        offset = end + 1
        if len(line) < 4 or not line[:3].isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
            raise ValueError(f"malformed SMTP reply: {line[:80]!r}")
        lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] != b"-":
            del buffer[:offset]
            return SMTPResponse(int(line[:3]), b"\n".join(lines).decode("utf-8", "surrogateescape"))
    if len(buffer) > _MAX_REPLY:
        raise ValueError("SMTP reply too long")
    return None


def _accepted(envelope: list[SMTPResponse]) -> bool:
    return envelope[0].code == SMTPStatus.completed and envelope[1].code in (
        SMTPStatus.completed, SMTPStatus.will_forward)


def _check_envelope(replies: list[SMTPResponse], sender: str, recipient: str) -> None:
    """Raise as sendmail does for the first refused of MAIL, RCPT and DATA in `replies`."""
    if replies[0].code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(replies[0].code, replies[0].message, sender)
    if len(replies) > 1 and replies[1].code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(replies[1].code, replies[1].message, recipient)])
    if len(replies) > 2 and replies[2].code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(replies[2].code, replies[2].message)


def _check_data(reply: SMTPResponse) -> str:
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply.message


def _plain(address: str) -> bool:
    return address.isascii() and _PLAIN_ADDRESS.fullmatch(address) is not None


def _crlf_only(data: bytes) -> bool:
    """No bare CR or LF, which sendmail would turn into CRLF (counting is C-fast; a regex is not)."""
    crlf = data.count(b"\r\n")
    return data.count(b"\n") == crlf and data.count(b"\r") == crlf
