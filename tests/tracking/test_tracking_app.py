"""The tracking server over real HTTP (uvicorn on loopback), against a real SQLite file."""

from __future__ import annotations

import socket
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import plan_campaign
from edm.campaigns.rules import Match
from edm.campaigns.schema import Campaign
from edm.clock import FixedClock
from edm.config import EngagementSettings
from edm.store import CustomerProfile
from edm.tracking import TrackingLinks, create_tracking_app, serve_in_background, sign, unsubscribe
from tests.tracking.conftest import (
    KEY,
    NOW,
    OLD_KEY,
    SHOP,
    Mail,
    add_mail,
    stored_events,
    suppressions,
)

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
RETIRED_KEY = b"a-key-taken-out-of-rotation"


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
    [event] = stored_events(sessions)
    assert (event.kind, event.customer_id, event.outbox_id) == ("open", mail.customer_id,
                                                                mail.outbox_id)
    assert event.occurred_at == NOW and event.user_agent == "Thunderbird/128"
    assert event.machine is False


def test_click_redirects_to_the_sealed_url_and_records_it(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = http.get(links.click_url(mail.outbox_id, mail.customer_id, SHOP))

    assert response.status_code == 302
    assert response.headers["location"] == SHOP
    assert response.headers["referrer-policy"] == "no-referrer"
    [event] = stored_events(sessions)
    assert (event.kind, event.url, event.outbox_id, event.machine) == ("click", SHOP, mail.outbox_id, False)


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
                stranger.unsubscribe_url(*ids), ghost.unsubscribe_url(mail.outbox_id, 999_999),
                f"{base_url}/u/{pixel_token}/preferences"]:
        assert http.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 404, url

    assert stored_events(sessions) == []
    assert suppressions(sessions) == []


def test_a_key_taken_out_of_rotation_no_longer_verifies(
    http: httpx.Client, base_url: str, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    retired = TrackingLinks(base_url, [RETIRED_KEY])
    ids = (mail.outbox_id, mail.customer_id)
    assert http.get(retired.open_url(*ids)).status_code == 404
    assert http.get(retired.click_url(*ids, SHOP)).status_code == 404
    assert http.get(retired.unsubscribe_url(*ids)).status_code == 404
    assert http.post(retired.unsubscribe_url(*ids)).status_code == 404
    assert stored_events(sessions) == [] and suppressions(sessions) == []


def test_a_token_pairing_one_customer_with_anothers_mail_writes_nothing(
    http: httpx.Client, base_url: str, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    """Validly signed (say, by a bug): customer A with B's outbox id is still refused."""
    other = add_mail(sessions, "li@example.com")
    crossed = TrackingLinks(base_url, [KEY])
    for url in (crossed.open_url(other.outbox_id, mail.customer_id),
                crossed.click_url(other.outbox_id, mail.customer_id, SHOP),
                crossed.unsubscribe_url(other.outbox_id, mail.customer_id)):
        assert http.get(url).status_code == 404, url
    unsubscribe_url = crossed.unsubscribe_url(other.outbox_id, mail.customer_id)
    assert http.post(unsubscribe_url).status_code == 404
    assert http.post(f"{unsubscribe_url}/preferences", data={"pause": "30"}).status_code == 404
    assert stored_events(sessions) == [] and suppressions(sessions) == []


def test_links_signed_with_an_old_key_still_work_after_rotation(
    http: httpx.Client, base_url: str, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    before_rotation = TrackingLinks(base_url, [OLD_KEY])
    response = http.get(before_rotation.click_url(mail.outbox_id, mail.customer_id, SHOP))
    assert response.status_code == 302 and response.headers["location"] == SHOP
    assert http.get(before_rotation.open_url(mail.outbox_id, mail.customer_id)).status_code == 200
    assert [e.kind for e in stored_events(sessions)] == ["click", "open"]


def test_an_open_for_a_pruned_mail_still_counts_for_the_customer(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    assert http.get(links.open_url(987_654, mail.customer_id)).status_code == 200
    [event] = stored_events(sessions)
    assert (event.customer_id, event.outbox_id, event.machine) == (mail.customer_id, None, False)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"User-Agent": "Mozilla/5.0"}, "Apple Mail Privacy Protection's bare agent"),
        ({"User-Agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
                        "GoogleImageProxy)"}, "Gmail's image proxy"),
        ({"User-Agent": "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"},
         "Yahoo's image proxy"),
        ({"User-Agent": "Thunderbird/128", "X-Forwarded-For": "17.58.101.9"}, "from Apple's network"),
    ],
)
def test_proxy_opens_are_recorded_as_machine(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session],
    headers: dict[str, str], reason: str,
) -> None:
    assert http.get(links.open_url(mail.outbox_id, mail.customer_id), headers=headers).status_code == 200
    [event] = stored_events(sessions)
    assert (event.kind, event.machine) == ("open", True), reason


def test_a_click_seconds_after_sending_is_a_scanners(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session]
) -> None:
    fresh = add_mail(sessions, "new@example.com", sent_at=NOW - timedelta(seconds=3))
    sending = add_mail(sessions, "busy@example.com", sent_at=None)  # the sender has not recorded it yet
    for mail in (fresh, sending):
        response = http.get(links.click_url(mail.outbox_id, mail.customer_id, SHOP),
                            headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130"})
        assert response.status_code == 302
    assert [(e.kind, e.machine) for e in stored_events(sessions)] == [("click", True)] * 2


def test_the_unsubscribe_page_asks_but_does_not_unsubscribe(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = http.get(links.unsubscribe_url(mail.outbox_id, mail.customer_id))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in response.text and "Unsubscribe" in response.text
    assert "Pause for 30 days" in response.text and "wang@example.com" in response.text
    assert '<html lang="en">' in response.text and "退订" not in response.text
    assert stored_events(sessions) == [] and suppressions(sessions) == []


def test_a_chinese_customer_gets_the_page_in_chinese(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session]
) -> None:
    mail = add_mail(sessions, "zhao@example.cn", locale="zh-CN")
    url = links.unsubscribe_url(mail.outbox_id, mail.customer_id)
    page = http.get(url).text
    assert '<html lang="zh-Hans">' in page and "退订" in page and "暂停 30 天" in page
    assert "Unsubscribe" not in page
    assert "已退订" in http.post(url).text


@pytest.mark.parametrize("locale", ["zh-HK", "zh-TW", "zh_Hant_MO"])
def test_a_traditional_chinese_customer_gets_the_page_in_traditional(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session], locale: str
) -> None:
    mail = add_mail(sessions, "chan@example.hk", locale=locale)
    url = links.unsubscribe_url(mail.outbox_id, mail.customer_id)
    page = http.get(url).text
    assert '<html lang="zh-Hant">' in page and "取消訂閱" in page and "暫停 30 天" in page
    assert "退订" not in page and "Unsubscribe" not in page
    assert "已取消訂閱" in http.post(url).text


def test_a_customer_with_an_unknown_locale_gets_the_page_in_english(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session]
) -> None:
    mail = add_mail(sessions, "someone@example.xx", locale="xx-YY")
    url = links.unsubscribe_url(mail.outbox_id, mail.customer_id)
    page = http.get(url).text
    assert '<html lang="en">' in page and "Unsubscribe" in page and "Pause for 30 days" in page
    assert not any("\u4e00" <= char <= "\u9fff" for char in page.replace("王芳", ""))


def test_posting_unsubscribes_and_twice_is_fine(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.unsubscribe_url(mail.outbox_id, mail.customer_id)
    for _ in range(2):
        response = http.post(url)
        assert response.status_code == 200
        assert "no more email" in response.text and "wang@example.com" in response.text

    [suppression] = suppressions(sessions)
    assert (suppression.email, suppression.reason) == ("wang@example.com", "unsubscribed")
    assert suppression.created_at == NOW
    events = stored_events(sessions)
    assert [(e.kind, e.customer_id, e.outbox_id) for e in events] == [
        ("unsubscribe", mail.customer_id, mail.outbox_id)
    ] * 2


def test_rfc8058_one_click_post_unsubscribes_and_the_next_plan_leaves_them_out(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session]
) -> None:
    stays, leaves = add_mail(sessions, "stays@example.com"), add_mail(sessions, "leaves@example.com")
    with sessions.begin() as session:
        for mail in (stays, leaves):
            session.add(CustomerProfile(customer_id=mail.customer_id, value_tier="high",
                                        lifecycle_stage="churned", order_count=3, revenue=100,
                                        computed_at=NOW))
    response = http.post(links.unsubscribe_url(leaves.outbox_id, leaves.customer_id),
                         content=b"List-Unsubscribe=One-Click",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert [s.email for s in suppressions(sessions)] == ["leaves@example.com"]

    campaign = Campaign(name="spring", template="win_back", subject={"en": "Spring"}, kind="transactional",
                        audience=Match(stages=["churned"]))
    result = plan_campaign(sessions, campaign, occurrence=(NOW + timedelta(days=1)).date(),
                           now=NOW + timedelta(days=1), rules=EngagementSettings())
    assert (result.audience, result.queued, result.suppressed) == (2, 1, 1)


def test_healthz_reports_the_queue(http: httpx.Client, base_url: str) -> None:
    response = http.get(f"{base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "queue": 0}


def test_pages_escape_the_address(sessions: sessionmaker[Session]) -> None:
    mail = add_mail(sessions, '"<script>alert(1)</script>"@example.com')
    app = create_tracking_app(sessions, [KEY], FixedClock(NOW))
    with serve_in_background(app) as base_url, httpx.Client() as client:
        url = TrackingLinks(base_url, [KEY]).unsubscribe_url(mail.outbox_id, mail.customer_id)
        for response in (client.get(url), client.post(f"{url}/preferences", data={"pause": "60"}),
                         client.post(url)):
            assert response.status_code == 200
            assert "<script>" not in response.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_unsubscribe_is_idempotent_on_every_database(any_sessions: sessionmaker[Session]) -> None:
    mail = add_mail(any_sessions)
    for _ in range(2):
        with any_sessions.begin() as session:
            email = unsubscribe(session, customer_id=mail.customer_id, outbox_id=mail.outbox_id,
                                occurred_at=NOW, user_agent="x" * 2000)
            assert email == "wang@example.com"
    assert [s.email for s in suppressions(any_sessions)] == ["wang@example.com"]
    assert [len(e.user_agent or "") for e in stored_events(any_sessions)] == [500, 500]


def test_serving_on_a_busy_port_fails_clearly(sessions: sessionmaker[Session]) -> None:
    app = create_tracking_app(sessions, [KEY], FixedClock(NOW))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="could not start"), serve_in_background(app,
                                                                                         port=port):
            pass
