"""Fetch every URL in a file once, over many keep-alive HTTP/1.1 connections: the load for
test_ingest, run in a process of its own so it does not share the server's interpreter.
Raw asyncio streams rather than an HTTP library: a lean client, so requests really arrive
together. All URLs must be on one http:// host.

    python tests/tracking/burst.py URLS_FILE CONNECTIONS   # prints {"status": count} as JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from urllib.parse import urlsplit


async def fire(urls: list[str], connections: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    first = urlsplit(urls[0])
    host, port = first.hostname or "127.0.0.1", first.port or 80
    queue = iter(urls)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for url in queue:
            path = url[url.index("/", len("http://")):]
            request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Thunderbird/128\r\n\r\n"
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            statuses[int(head[9:12])] += 1
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return statuses


if __name__ == "__main__":
    with open(sys.argv[1], encoding="ascii") as file:
        urls = file.read().split()
    print(json.dumps(asyncio.run(fire(urls, int(sys.argv[2])))))
