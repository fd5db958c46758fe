"""An embedded SMTP server (aiosmtpd) that keeps every message as an `.eml` file.

It is the default relay of `edm demo`: real SMTP on loopback, nothing leaves the machine.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class EmlFolderHandler:
    """Writes each accepted message to `folder` atomically (write, then rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = next(self._numbers)
        for recipient in envelope.rcpt_tos:
            safe = "".join(ch if ch.isalnum() or ch in "@.-_" else "_" for ch in recipient)
            target = self.folder / f"{number:06d}-{safe}.eml"
            partial = target.with_suffix(".part")
            partial.write_bytes(envelope.original_content or envelope.content)
            partial.replace(target)
        return "250 Message accepted for delivery"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_sink(folder: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, int]]:
    """Run the sink until the block ends; yields the (host, port) it listens on."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    controller = Controller(EmlFolderHandler(folder), hostname=host, port=port)
    controller.start()
    try:
        yield host, port
    finally:
        controller.stop()
