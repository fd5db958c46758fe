"""Chat targets through Apprise (WeCom, DingTalk, Feishu, Slack, ...): one short text per event."""

from __future__ import annotations

import logging

TITLE = "edm"


def notify(url: str, body: str) -> str | None:
    """Send `body` to the Apprise `url`; None when it went, else why not (never the URL: it holds a token)."""
    import apprise  # heavy: only when a chat target is configured

    sender = apprise.Apprise()
    if not sender.add(url):
        return "the Apprise URL is not one Apprise understands"
    # Apprise logs failures itself, with the URL's host; keep its chatter out of edm's logs
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    ok = sender.notify(body=body, title=TITLE)
    return None if ok else "the chat service did not accept the message"
