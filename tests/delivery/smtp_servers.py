"""Real aiosmtpd servers with scripted answers, for the sender and pool tests."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller

from edm.delivery.sink import free_port


class ScriptedHandler:
    """Keeps each accepted message's Message-ID; `answer(recipient, n)` may refuse the n-th RCPT."""

    def __init__(self, answer: Callable[[str, int], str | None] | None = None, latency: float = 0.0) -> None:
        self.answer = answer or (lambda recipient, n: None)
        self.latency = latency
        self.message_ids: list[str] = []
        self.recipients: list[str] = []
        self.sessions: set[int] = set()
        self.received_at: list[tuple[float, str]] = []  # (clock(), recipient), when `clock` is set
        self.clock: Callable[[], float] | None = None
        self._rcpts = 0
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        with self._lock:
            self._rcpts += 1
            refusal = self.answer(address, self._rcpts)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        lines = envelope.content.split(b"\r\n")
        header = next((line for line in lines if line.lower().startswith(b"message-id:")), b"")
        with self._lock:
            self.sessions.add(id(session))
            self.message_ids.append(header.split(b":", 1)[-1].strip().decode())
            self.recipients.extend(envelope.rcpt_tos)
            if self.clock is not None:
                self.received_at.extend((self.clock(), r) for r in envelope.rcpt_tos)
        return "250 Message accepted for delivery"


@contextmanager
def serving(handler: Any, port: int | None = None, **options: Any) -> Iterator[int]:
    """Run an SMTP server on loopback until the block ends; yields its port. `options` go to aiosmtpd's
    Controller (e.g. an `authenticator`)."""
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: connections are refused, and no other test can take it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]
