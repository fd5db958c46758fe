"""The tracking server: open pixel, click redirect, unsubscribe page and RFC 8058 one-click POST.

Every route trusts only the signed token in its path: a token that does not verify, is of
the wrong kind, or names no known customer gets a 404 and nothing is written. Database
writes are synchronous SQLAlchemy, so they run in the thread pool, off the event loop.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from html import escape

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from edm.clock import Clock
from edm.tracking.events import customer_email, record_event, unsubscribe
from edm.tracking.links import Kind, Link, read_token

log = logging.getLogger(__name__)

PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache"}


class PixelResponse(Response):
    """The 1x1 transparent GIF, never cached, so each view of the mail reaches us."""

    media_type = "image/gif"

    def __init__(self) -> None:
        super().__init__(PIXEL_GIF, headers=NO_STORE)


class ClickRedirect(RedirectResponse):
    """A 302 that is never cached (each click counts) and hides the token from the target site."""

    def __init__(self, url: str) -> None:
        headers = {**NO_STORE, "Referrer-Policy": "no-referrer"}
        super().__init__(url, status_code=302, headers=headers)


class PageResponse(HTMLResponse):
    """A small page for people; not cached, not indexed, and leaking no token via Referer."""

    def __init__(self, content: str) -> None:
        headers = {**NO_STORE, "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
        super().__init__(content, headers=headers)


class NotFound(PlainTextResponse):
    def __init__(self) -> None:
        super().__init__("not found", status_code=404, headers=NO_STORE)


def create_tracking_app(
    sessions: sessionmaker[Session], keys: Sequence[bytes], clock: Clock
) -> Starlette:
    """The ASGI app; `keys` are the link-signing keys, newest first (any of them verifies)."""
    keys = tuple(keys)

    def link_of(request: Request, kind: Kind) -> Link | None:
        return read_token(request.path_params["token"], keys, kind)

    def user_agent(request: Request) -> str | None:
        return request.headers.get("user-agent")

    def record(link: Link, kind: str, agent: str | None) -> bool:
        with sessions.begin() as session:
            return record_event(
                session,
                kind=kind,
                customer_id=link.customer_id,
                outbox_id=link.outbox_id,
                occurred_at=clock.now(),
                url=link.url,
                user_agent=agent,
            )

    def email_of(link: Link) -> str | None:
        with sessions() as session:
            return customer_email(session, link.customer_id)

    def unsubscribe_now(link: Link, agent: str | None) -> str | None:
        with sessions.begin() as session:
            return unsubscribe(
                session,
                customer_id=link.customer_id,
                outbox_id=link.outbox_id,
                occurred_at=clock.now(),
                user_agent=agent,
            )

    async def open_pixel(request: Request) -> Response:
        link = link_of(request, "o")
        if link is None or not await run_in_threadpool(record, link, "open", user_agent(request)):
            return NotFound()
        return PixelResponse()

    async def click(request: Request) -> Response:
        link = link_of(request, "c")
        if link is None or link.url is None:
            return NotFound()
        if not await run_in_threadpool(record, link, "click", user_agent(request)):
            return NotFound()
        return ClickRedirect(link.url)

    async def unsubscribe_page(request: Request) -> Response:
        """Only asks: link scanners fetch GETs, and must not unsubscribe anyone."""
        link = link_of(request, "u")
        if link is None:
            return NotFound()
        email = await run_in_threadpool(email_of, link)
        return NotFound() if email is None else PageResponse(confirm_page(email))

    async def unsubscribe_post(request: Request) -> Response:
        """The page's button and RFC 8058 one-click (`List-Unsubscribe=One-Click`) land here."""
        link = link_of(request, "u")
        if link is None:
            return NotFound()
        email = await run_in_threadpool(unsubscribe_now, link, user_agent(request))
        if email is None:
            return NotFound()
        log.info("unsubscribed customer=%d outbox=%d", link.customer_id, link.outbox_id)
        return PageResponse(done_page(email))

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/o/{token}.gif", open_pixel, methods=["GET"]),
            Route("/c/{token}", click, methods=["GET"]),
            Route("/u/{token}", unsubscribe_page, methods=["GET"]),
            Route("/u/{token}", unsubscribe_post, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def confirm_page(email: str) -> str:
    """The GET page: a button that POSTs back to the same URL."""
    shown = escape(email)
    return _page(
        "Unsubscribe · 退订",
        f"<p>Stop sending email to <strong>{shown}</strong>?</p>"
        f"<p>不再向 <strong>{shown}</strong> 发送邮件？</p>"
        '<form method="post"><button type="submit">Unsubscribe · 退订</button></form>',
    )


def done_page(email: str) -> str:
    shown = escape(email)
    return _page(
        "Unsubscribed · 已退订",
        f"<p><strong>{shown}</strong> will receive no more email from us.</p>"
        f"<p><strong>{shown}</strong> 将不会再收到我们的邮件。</p>",
    )


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>body{{font-family:system-ui,sans-serif;"
        "max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.6}"
        "button{font-size:1rem;padding:.5rem 1.5rem}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
