from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.store import Customer, Event, OutboxMessage, Suppression
from edm.tracking import TrackingLinks, create_tracking_app, serve_in_background, sign, unsubscribe

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
KEY, OLD_KEY = b"current-signing-key", b"previous-signing-key"
SHOP = "https://shop.example.com/spring?utm_source=edm&x=1#top"
NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"


@dataclass(frozen=True)
class Mail:
    customer_id: int
    outbox_id: int


def _add_mail(sessions: sessionmaker[Session], email: str = "wang@example.com") -> Mail:
    with sessions.begin() as session:
        customer = Customer(
            external_id=email, name="王芳", email=email, kind="person", created_at=NOW
        )
        session.add(customer)
        session.flush()
        outbox = OutboxMessage(
            key=f"win_back:0:{customer.id}", campaign="win_back", step=0,
            customer_id=customer.id, occurrence=date(2026, 11, 24), to_address=email,
            state="sent", attempts=1, next_attempt_at=NOW, created_at=NOW,
        )
        session.add(outbox)
        session.flush()
        return Mail(customer.id, outbox.id)


def _events(sessions: sessionmaker[Session]) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def _suppressions(sessions: sessionmaker[Session]) -> list[Suppression]:
    with sessions() as session:
        return list(session.scalars(select(Suppression)))


@pytest.fixture
def mail(sessions: sessionmaker[Session]) -> Mail:
    return _add_mail(sessions)


@pytest.fixture
def base_url(sessions: sessionmaker[Session]) -> Iterator[str]:
    app = create_tracking_app(sessions, [KEY, OLD_KEY], FixedClock(NOW))
    with serve_in_background(app) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


@pytest.fixture
def links(base_url: str) -> TrackingLinks:
    return TrackingLinks(base_url, [KEY, OLD_KEY])


def test_pixel_is_an_uncached_gif_and_records_one_open(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = http.get(links.open_url(mail.outbox_id, mail.customer_id),
                        headers={"User-Agent": "Thunderbird/128"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and response.content[6:10] == b"\x01\x00\x01\x00"
    assert response.headers["cache-control"] == NO_CACHE
    assert response.headers["pragma"] == "no-cache"
    [event] = _events(sessions)
    assert (event.kind, event.customer_id, event.outbox_id) == ("open", mail.customer_id,
                                                                mail.outbox_id)
    assert event.occurred_at == NOW and event.user_agent == "Thunderbird/128"


def test_click_redirects_to_the_sealed_url_and_records_it(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = http.get(links.click_url(mail.outbox_id, mail.customer_id, SHOP))

    assert response.status_code == 302
    assert response.headers["location"] == SHOP
    [event] = _events(sessions)
    assert (event.kind, event.url, event.outbox_id) == ("click", SHOP, mail.outbox_id)


def test_the_query_string_cannot_redirect_anywhere_else(
    http: httpx.Client, links: TrackingLinks, mail: Mail
) -> None:
    url = links.click_url(mail.outbox_id, mail.customer_id, SHOP)
    for suffix in ("?url=https://evil.example", "?next=https://evil.example&u=https://evil.example"):
        response = http.get(url + suffix)
        assert response.status_code == 302
        assert response.headers["location"] == SHOP


def test_bad_tokens_get_404_and_write_nothing(
    http: httpx.Client, links: TrackingLinks, base_url: str, mail: Mail,
    sessions: sessionmaker[Session],
) -> None:
    ids = (mail.outbox_id, mail.customer_id)
    click = links.click_url(*ids, SHOP)
    at = len(base_url) + len("/c/") + 5
    tampered = click[:at] + ("A" if click[at] != "A" else "B") + click[at + 1 :]
    stranger = TrackingLinks(base_url, [b"not-our-key"])
    pixel_token = links.open_url(*ids).rsplit("/", 1)[1].removesuffix(".gif")
    click_token = click.rsplit("/", 1)[1]
    ghost = TrackingLinks(base_url, [KEY])

    bad_gets = [
        tampered,
        stranger.click_url(*ids, SHOP),
        stranger.open_url(*ids),
        f"{base_url}/c/{pixel_token}",
        f"{base_url}/u/{pixel_token}",
        f"{base_url}/o/{click_token}.gif",
        f"{base_url}/c/not-a-token",
        f"{base_url}/c/{sign({'k': 'c', 'm': 1, 'c': 1, 'u': 'https://evil.example'}, [b'x'])}",
        ghost.open_url(mail.outbox_id, 999_999),
        ghost.click_url(mail.outbox_id, 999_999, SHOP),
        ghost.unsubscribe_url(mail.outbox_id, 999_999),
    ]
    for url in bad_gets:
        assert http.get(url).status_code == 404, url
    for url in [f"{base_url}/u/{pixel_token}", f"{base_url}/u/{click_token}",
                stranger.unsubscribe_url(*ids), ghost.unsubscribe_url(mail.outbox_id, 999_999)]:
        assert http.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 404, url

    assert _events(sessions) == []
    assert _suppressions(sessions) == []


def test_links_signed_with_an_old_key_still_work_after_rotation(
    http: httpx.Client, base_url: str, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    before_rotation = TrackingLinks(base_url, [OLD_KEY])
    response = http.get(before_rotation.click_url(mail.outbox_id, mail.customer_id, SHOP))
    assert response.status_code == 302 and response.headers["location"] == SHOP
    assert [e.kind for e in _events(sessions)] == ["click"]


def test_the_unsubscribe_page_asks_but_does_not_unsubscribe(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = http.get(links.unsubscribe_url(mail.outbox_id, mail.customer_id))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in response.text and "Unsubscribe" in response.text
    assert "退订" in response.text and "wang@example.com" in response.text
    assert _events(sessions) == [] and _suppressions(sessions) == []


def test_posting_unsubscribes_and_twice_is_fine(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.unsubscribe_url(mail.outbox_id, mail.customer_id)
    for _ in range(2):
        response = http.post(url)
        assert response.status_code == 200
        assert "已退订" in response.text and "wang@example.com" in response.text

    [suppression] = _suppressions(sessions)
    assert (suppression.email, suppression.reason) == ("wang@example.com", "unsubscribed")
    assert suppression.created_at == NOW
    events = _events(sessions)
    assert [(e.kind, e.customer_id, e.outbox_id) for e in events] == [
        ("unsubscribe", mail.customer_id, mail.outbox_id)
    ] * 2


def test_rfc8058_one_click_post_unsubscribes(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = http.post(links.unsubscribe_url(mail.outbox_id, mail.customer_id),
                         data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert [s.email for s in _suppressions(sessions)] == ["wang@example.com"]


def test_healthz(http: httpx.Client, base_url: str) -> None:
    response = http.get(f"{base_url}/healthz")
    assert (response.status_code, response.text) == (200, "ok")


def test_pages_escape_the_address(sessions: sessionmaker[Session]) -> None:
    mail = _add_mail(sessions, '"<script>alert(1)</script>"@example.com')
    app = create_tracking_app(sessions, [KEY], FixedClock(NOW))
    with serve_in_background(app) as base_url, httpx.Client() as client:
        url = TrackingLinks(base_url, [KEY]).unsubscribe_url(mail.outbox_id, mail.customer_id)
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 200
            assert "<script>" not in response.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_unsubscribe_is_idempotent_on_every_database(any_sessions: sessionmaker[Session]) -> None:
    mail = _add_mail(any_sessions)
    for _ in range(2):
        with any_sessions.begin() as session:
            email = unsubscribe(session, customer_id=mail.customer_id, outbox_id=mail.outbox_id,
                                occurred_at=NOW, user_agent="x" * 2000)
            assert email == "wang@example.com"
    assert [s.email for s in _suppressions(any_sessions)] == ["wang@example.com"]
    assert [len(e.user_agent or "") for e in _events(any_sessions)] == [500, 500]


def test_serving_on_a_busy_port_fails_clearly(sessions: sessionmaker[Session]) -> None:
    app = create_tracking_app(sessions, [KEY], FixedClock(NOW))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="could not start"), serve_in_background(app,
                                                                                         port=port):
            pass
