"""A small authoritative DNS server for the doctor tests: UDP on 127.0.0.1, a random port, answering
from a dict the test can change between runs (dnspython builds and parses the packets)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Records = dict[tuple[str, str], list[str]]  # (name, type) -> rdata texts; TXT given unquoted


def txt(text: str) -> str:
    """A TXT rdata in zone-file form: quoted, split into strings of at most 255 bytes."""
    chunks = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)


class DnsServer:
    """Answers every question from `records`; a name with no record at all is NXDOMAIN. `silent` names
    get no answer (a server timing out). `asked` keeps the questions, in order."""

    def __init__(self) -> None:
        self.records: Records = {}
        self.silent: set[str] = set()
        self.asked: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._socket.recvfrom(65535)
            except TimeoutError:
                continue
            reply = self._answer(data)
            if reply is not None:
                self._socket.sendto(reply, peer)

    def _answer(self, data: bytes) -> bytes | None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.asked.append((name, kind))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        found = self.records.get((name, kind), [])
        if found:
            texts = [txt(value) for value in found] if kind == "TXT" else found
            response.answer.append(dns.rrset.from_text_list(name + ".", 300, dns.rdataclass.IN, kind, texts))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@contextmanager
def dns_server(records: Records | None = None) -> Iterator[DnsServer]:
    server = DnsServer()
    server.records = dict(records or {})
    server.start()
    try:
        yield server
    finally:
        server.stop()
