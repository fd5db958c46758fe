"""Reading the small urlencoded forms our pages post, without trusting the size a client claims."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request


async def read_form(
    request: Request, max_bytes: int, *, max_fields: int, keep_blank: bool = False
) -> dict[str, list[str]] | None:
    """An urlencoded body of at most `max_bytes` and `max_fields`; None when longer, {} when it is no
    form of ours. `keep_blank` keeps empty fields (an empty comment box still says which form was sent).
    A declared length over the limit is refused before anything is read; the body is counted as it
    comes, so a client that lies about its length is cut off all the same."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=keep_blank, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        return {}
