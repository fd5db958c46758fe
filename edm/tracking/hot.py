"""The hot routes: the open pixel's and the click's GET, which are most of the server's traffic.

`Hits` verifies the token, queues the open or click on the batched writer (ingest.py) and gives
the answer once it is stored; the Starlette routes in app.py use it. `HotPaths`, an ASGI
middleware inside the app's error handling, sends those GETs straight to `Hits` with answers
built once, skipping the router's route-by-route matching and a Request and a Response per
request. Same status, headers and body, same checks, same events: only cheaper.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from edm.clock import Clock
from edm.tracking.events import Hit
from edm.tracking.ingest import EventWriter, IngestError
from edm.tracking.links import read_token
from edm.tracking.responses import ClickRedirect, NotFound, PixelResponse, Unavailable

# built once and shared by every request: sent as they are, never altered
PIXEL, NOT_FOUND, UNAVAILABLE = PixelResponse(), NotFound(), Unavailable()


class Hits:
    """Opens and clicks: verify, store, answer. A token that does not verify, is of the other
    kind, or names no known customer (or someone else's mail) is a 404 and nothing is written."""

    def __init__(self, keys: Sequence[bytes], writer: EventWriter, clock: Clock) -> None:
        self._keys = tuple(keys)
        self._writer = writer
        self._clock = clock

    async def open(self, token: str, agent: str | None, ip: str | None) -> Response:
        link = read_token(token, self._keys, "o")
        if link is None:
            return NOT_FOUND
        return await self._store(Hit("open", link.customer_id, link.outbox_id, self._clock.now(), None,
                                     agent, ip)) or PIXEL

    async def click(self, token: str, agent: str | None, ip: str | None) -> Response:
        link = read_token(token, self._keys, "c")
        if link is None or link.url is None:
            return NOT_FOUND
        return await self._store(Hit("click", link.customer_id, link.outbox_id, self._clock.now(), link.url,
                                     agent, ip)) or ClickRedirect(link.url)

    async def _store(self, hit: Hit) -> Response | None:
        """None once stored, else the answer to give instead."""
        try:
            stored = await self._writer.record(hit)
        except IngestError:
            return UNAVAILABLE
        return None if stored else NOT_FOUND


class HotPaths:
    """`GET /o/{token}.gif` and `GET /c/{token}` answered by `Hits` directly; all else (HEADs, other
    methods, other paths, a mounted app's root path) goes on to the app as before."""

    def __init__(self, app: ASGIApp, hits: Hits) -> None:
        self._app = app
        self._hits = hits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            path: str = scope["path"]
            # as the routes match: one path segment, not empty ([^/]+)
            if path.startswith("/o/") and path.endswith(".gif") and len(path) > 7 and "/" not in path[3:]:
                response = await self._hits.open(path[3:-4], _agent(scope), _ip(scope))
            elif path.startswith("/c/") and len(path) > 3 and "/" not in path[3:]:
                response = await self._hits.click(path[3:], _agent(scope), _ip(scope))
            else:
                await self._app(scope, receive, send)
                return
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": response.raw_headers})
            await send({"type": "http.response.body", "body": response.body})
            return
        await self._app(scope, receive, send)


def _agent(scope: Scope) -> str | None:
    """The User-Agent header as Starlette's `request.headers.get` reads it (the first one)."""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return str(value.decode("latin-1"))
    return None


def _ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
