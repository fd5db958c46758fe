"""The fast path for pixel and click GETs (edm.tracking.hot.HotPaths) answers exactly as the
Starlette routes do: same status, headers and body, same events stored, over real HTTP.

The routes are reached by serving the same app under a root path, where the fast path steps aside.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from edm.clock import FixedClock
from edm.tracking import TrackingLinks, create_tracking_app, serve_in_background, sign
from tests.tracking.conftest import KEY, OLD_KEY, SHOP, Mail, add_mail, stored_events

VARYING = {"date", "server"}  # the only headers allowed to differ between two answers
AGENT = {"User-Agent": "Thunderbird/128"}


class UnderRootPath:
    """The app as if mounted at /t: Starlette strips the root path and routes as before; the fast
    path does not take requests under a root path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "root_path": "/t", "path": "/t" + scope["path"]}
        await self.app(scope, receive, send)


@pytest.fixture
def servers(sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[tuple[str, str]]:
    """(fast path's base URL, routes' base URL): two apps over the same store."""
    fast = create_tracking_app(sessions, [KEY, OLD_KEY], clock)
    routed = UnderRootPath(create_tracking_app(sessions, [KEY, OLD_KEY], clock))
    with serve_in_background(fast) as fast_url, serve_in_background(routed) as routed_url:
        yield fast_url, routed_url


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(name, value) for name, value in response.headers.multi_items() if name not in VARYING]
    return response.status_code, headers, response.content


def _event_rows(sessions: sessionmaker[Session]) -> list[tuple[object, ...]]:
    return [(e.kind, e.customer_id, e.outbox_id, e.occurred_at, e.url, e.user_agent, e.machine)
            for e in stored_events(sessions)]


def _paths(mail: Mail) -> dict[str, str]:
    links = TrackingLinks("", [KEY, OLD_KEY])
    ids = (mail.outbox_id, mail.customer_id)
    pixel, click = links.open_url(*ids), links.click_url(*ids, SHOP)
    pixel_token, click_token = pixel.removeprefix("/o/").removesuffix(".gif"), click.removeprefix("/c/")
    tampered = pixel_token[:5] + ("A" if pixel_token[5] != "A" else "B") + pixel_token[6:]
    ghost = TrackingLinks("", [KEY])
    return {
        "pixel": pixel,
        "click": click,
        "old key": TrackingLinks("", [OLD_KEY]).open_url(*ids),
        "tampered": f"/o/{tampered}.gif",
        "stranger's key": TrackingLinks("", [b"not-our-key"]).open_url(*ids),
        "click token as pixel": f"/o/{click_token}.gif",
        "pixel token as click": f"/c/{pixel_token}",
        "not a token": "/c/not-a-token",
        "evil redirect": f"/c/{sign({'k': 'c', 'm': 1, 'c': 1, 'u': 'https://evil.example'}, [b'x'])}",
        "unknown customer": ghost.open_url(mail.outbox_id, 999_999),
        "unknown customer's click": ghost.click_url(mail.outbox_id, 999_999, SHOP),
        "empty token": "/o/.gif",
        "two segments": f"/o/x/{pixel_token}.gif",
        "token and more": f"{click}/more",
        "query string": f"{click}?u=https://evil.example",
    }


@pytest.mark.parametrize("case", list(_paths(Mail(1, 1))))
def test_a_get_is_answered_and_stored_as_the_route_does(
    case: str, servers: tuple[str, str], sessions: sessionmaker[Session], mail: Mail
) -> None:
    path = _paths(mail)[case]
    fast_url, routed_url = servers
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        fast = http.get(fast_url + path, headers=AGENT)
        after_fast = _event_rows(sessions)
        routed = http.get(routed_url + path, headers=AGENT)
    assert _answer(fast) == _answer(routed)
    added = _event_rows(sessions)[len(after_fast):]
    assert added == after_fast  # the route stored just what the fast path did: one event, or none
    assert fast.status_code in (200, 302, 404)
    assert (fast.status_code == 404) == (after_fast == [])


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT"])
def test_other_methods_are_left_to_the_routes(
    method: str, servers: tuple[str, str], sessions: sessionmaker[Session], mail: Mail
) -> None:
    paths = _paths(mail)
    fast_url, routed_url = servers
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        for path in (paths["pixel"], paths["click"], paths["tampered"]):
            fast, routed = http.request(method, fast_url + path), http.request(method, routed_url + path)
            assert _answer(fast) == _answer(routed), (method, path)
    assert stored_events(sessions) == []


def test_a_failed_write_is_the_same_503(servers: tuple[str, str], sessions: sessionmaker[Session]) -> None:
    mail = add_mail(sessions)
    path = _paths(mail)["pixel"]
    fast_url, routed_url = servers
    with sessions.begin() as session:
        session.execute(text("ALTER TABLE events RENAME TO events_away"))
    try:
        with httpx.Client(timeout=30) as http:
            fast, routed = http.get(fast_url + path), http.get(routed_url + path)
    finally:
        with sessions.begin() as session:
            session.execute(text("ALTER TABLE events_away RENAME TO events"))
    assert fast.status_code == 503
    assert _answer(fast) == _answer(routed)
    assert stored_events(sessions) == []
