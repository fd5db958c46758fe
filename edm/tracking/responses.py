"""The tracking server's answers: the pixel, the click redirect, its pages, 404 and 503.

Each is a Starlette response (the routes return them); the hot path (hot.py) sends the very
same status, headers and body without building one per request.
"""

from __future__ import annotations

import base64

from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

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

    def __init__(self, content: str, status_code: int = 200) -> None:
        headers = {**NO_STORE, "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
        super().__init__(content, status_code=status_code, headers=headers)


class NotFound(PlainTextResponse):
    def __init__(self) -> None:
        super().__init__("not found", status_code=404, headers=NO_STORE)


class Unavailable(PlainTextResponse):
    """The event could not be stored: say so, so the client may retry, rather than pretend."""

    def __init__(self) -> None:
        super().__init__("try again later", status_code=503, headers={**NO_STORE, "Retry-After": "30"})
