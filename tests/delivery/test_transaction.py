"""The transport's direct mail transaction (MAIL, RCPT, DATA on a session past its greeting), one
command at a time and pipelined (RFC 2920), against a real aiosmtpd server: every reply is still
checked, per recipient."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from edm.config import SmtpSettings
from edm.delivery.transaction import _take_reply
from edm.delivery.transport import Delivery, Outgoing, SmtpTransport
from edm.errors import PermanentDeliveryError, TransientDeliveryError
from tests.delivery.smtp_servers import serving

SENDER = "care@example.com"


class Relay:
    """Records what arrived; refuses RCPT or the data by recipient, or stalls on the data."""

    def __init__(self, rcpt: dict[str, str] | None = None, data: dict[str, str] | None = None,
                 stall: dict[str, float] | None = None, pipelining: bool = False,
                 hang_up: frozenset[str] = frozenset()) -> None:
        self.rcpt, self.data, self.stall, self.hang_up = rcpt or {}, data or {}, stall or {}, hang_up
        self.pipelining = pipelining
        self.received: list[tuple[str, bytes]] = []
        self.sessions: set[int] = set()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads commands in order anyway; it just does not say so
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.rcpt:
            return self.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        await asyncio.sleep(self.stall.get(recipient, 0.0))
        if recipient in self.hang_up:
            server.transport.close()
            return "421 4.3.2 going away"
        if recipient in self.data:
            return self.data[recipient]
        self.sessions.add(id(session))
        self.received.append((recipient, envelope.original_content))
        return "250 2.0.0 queued"


def _mail(to: str, body: str = "Hello\r\n") -> bytes:
    return f"From: {SENDER}\r\nTo: {to}\r\nSubject: hi\r\n\r\n{body}".encode()


def _send(relay: Relay, batch: list[Outgoing], **settings: Any) -> list[Delivery]:
    with serving(relay) as port:
        transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, concurrency=1, **settings))

        async def run() -> list[Delivery]:
            try:
                return await transport.send(batch)
            finally:
                await transport.close()

        return asyncio.run(run())


PIPELINING = pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])


@PIPELINING
def test_lines_starting_with_a_dot_arrive_unchanged_on_a_reused_session(pipelining: bool) -> None:
    body = ".leading dot\r\n.\r\n..two dots\r\nlast line without a break"
    batch = [Outgoing(i, SENDER, f"r{i}@example.com", _mail(f"r{i}@example.com", body)) for i in range(3)]
    relay = Relay(pipelining=pipelining)

    results = _send(relay, batch)

    assert [r.error for r in results] == [None, None, None]
    assert len(relay.sessions) == 1  # one session: all but the first went the direct way
    for (recipient, content), item in zip(relay.received, batch, strict=True):
        assert recipient == item.recipient
        assert content == item.data + b"\r\n"  # the transaction ends the last line


@PIPELINING
def test_refusals_are_checked_per_recipient_and_the_session_goes_on(pipelining: bool) -> None:
    relay = Relay(
        pipelining=pipelining,
        rcpt={"gone@example.com": "550 5.1.1 no such mailbox", "later@example.com": "451 4.3.0 try later"},
        data={"spam@example.com": "554 5.7.1 rejected as spam"},
    )
    names = ["first", "gone", "ok", "later", "spam", "last"]
    batch = [Outgoing(i, SENDER, f"{n}@example.com", _mail(f"{n}@example.com")) for i, n in enumerate(names)]

    results = _send(relay, batch)

    errors = {item.recipient: result.error for item, result in zip(batch, results, strict=True)}
    assert isinstance(errors["gone@example.com"], PermanentDeliveryError)
    assert errors["gone@example.com"].code == 550
    assert isinstance(errors["later@example.com"], TransientDeliveryError)
    assert errors["later@example.com"].code == 451
    assert isinstance(errors["spam@example.com"], PermanentDeliveryError)
    assert errors["spam@example.com"].code == 554
    assert [r for r, _ in relay.received] == ["first@example.com", "ok@example.com", "last@example.com"]
    assert len(relay.sessions) == 1  # each refusal was reset, not a reason for a new session


@PIPELINING
def test_a_relay_that_stalls_is_a_transient_error_and_the_next_message_gets_a_fresh_session(
    pipelining: bool,
) -> None:
    relay = Relay(stall={"slow@example.com": 10.0}, pipelining=pipelining)
    names = ["first", "slow", "after"]
    batch = [Outgoing(i, SENDER, f"{n}@example.com", _mail(f"{n}@example.com")) for i, n in enumerate(names)]

    results = _send(relay, batch, timeout_seconds=0.5)

    assert results[0].error is None and results[2].error is None
    assert isinstance(results[1].error, TransientDeliveryError)
    assert [r for r, _ in relay.received] == ["first@example.com", "after@example.com"]
    assert len(relay.sessions) == 2


@PIPELINING
def test_a_relay_that_hangs_up_mid_transaction_is_a_transient_error(pipelining: bool) -> None:
    relay = Relay(hang_up=frozenset({"cut@example.com"}), pipelining=pipelining)
    names = ["first", "cut", "after"]
    batch = [Outgoing(i, SENDER, f"{n}@example.com", _mail(f"{n}@example.com")) for i, n in enumerate(names)]

    results = _send(relay, batch)

    assert results[0].error is None and results[2].error is None
    assert isinstance(results[1].error, TransientDeliveryError)
    assert [r for r, _ in relay.received] == ["first@example.com", "after@example.com"]


def test_pipelined_replies_are_split_whole_and_multi_line_ones_joined() -> None:
    buffer = bytearray(b"250 2.1.0 Ok\r\n250-2.1.5 Ok\r\n250 2.1.5 and more\r\n354 End data wi")

    assert _take_reply(buffer) == (250, "2.1.0 Ok")
    assert _take_reply(buffer) == (250, "2.1.5 Ok\n2.1.5 and more")
    assert _take_reply(buffer) is None  # not complete yet
    buffer += b"th <CR><LF>.<CR><LF>\r\n"
    assert _take_reply(buffer) == (354, "End data with <CR><LF>.<CR><LF>")
    assert buffer == b""
    with pytest.raises(ValueError, match="malformed"):
        _take_reply(bytearray(b"hello\r\n"))
