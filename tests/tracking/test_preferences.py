"""The gentler way out: pause marketing for a while, or ask for less, from the unsubscribe page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import EngagementSettings
from edm.engagement import refresh_engagement
from edm.store import CustomerProfile
from edm.tracking import TrackingLinks
from tests.tracking.conftest import NOW, Mail, add_mail, customer, stored_events, suppressions


def _preferences(links: TrackingLinks, mail: Mail) -> str:
    return f"{links.unsubscribe_url(mail.outbox_id, mail.customer_id)}/preferences"


def test_the_page_offers_the_choices_and_its_form_posts_beside_the_token(
    http: httpx.Client, links: TrackingLinks, mail: Mail
) -> None:
    url = links.unsubscribe_url(mail.outbox_id, mail.customer_id)
    page = http.get(url).text
    token = url.rsplit("/", 1)[1]
    assert f'action="{token}/preferences"' in page  # relative: /u/<token> -> /u/<token>/preferences
    for days in (30, 60, 90):
        assert f'name="pause" value="{days}"' in page
    assert 'name="frequency" value="less"' in page


@pytest.mark.parametrize("days", [30, 60, 90])
def test_a_pause_holds_marketing_until_then(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session], days: int
) -> None:
    response = http.post(_preferences(links, mail), data={"pause": str(days)})
    until = NOW + timedelta(days=days)
    assert response.status_code == 200
    assert until.date().isoformat() in response.text and "wang@example.com" in response.text
    saved = customer(sessions, mail.customer_id)
    assert (saved.paused_until, saved.frequency_preference) == (until, None)
    assert suppressions(sessions) == [] and stored_events(sessions) == []  # still subscribed


def test_a_shorter_pause_does_not_cut_a_longer_one(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    http.post(_preferences(links, mail), data={"pause": "90"})
    http.post(_preferences(links, mail), data={"pause": "30"})
    assert customer(sessions, mail.customer_id).paused_until == NOW + timedelta(days=90)


def test_asking_for_less(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = http.post(_preferences(links, mail), data={"frequency": "less"})
    assert response.status_code == 200 and "less often" in response.text
    saved = customer(sessions, mail.customer_id)
    assert (saved.frequency_preference, saved.paused_until) == ("less", None)


def test_asking_for_less_stretches_the_interval_at_the_next_refresh_incremental_or_not(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.add(CustomerProfile(customer_id=mail.customer_id, value_tier="medium",
                                    lifecycle_stage="mature", order_count=3, revenue=Decimal("100"),
                                    computed_at=NOW))
    rules = EngagementSettings()
    refresh_engagement(sessions, rules, FixedClock(NOW))
    before = _interval(sessions, mail.customer_id)
    assert http.post(_preferences(links, mail), data={"frequency": "less"}).status_code == 200
    later = refresh_engagement(sessions, rules, FixedClock(NOW + timedelta(minutes=5)))
    assert (later.full, later.recomputed) == (False, 1)
    assert _interval(sessions, mail.customer_id) == before * rules.less_mail_factor


def _interval(sessions: sessionmaker[Session], customer_id: int) -> float | None:
    with sessions() as session:
        return session.get_one(CustomerProfile, customer_id).contact_interval_days


def test_in_chinese_for_a_chinese_customer(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session]
) -> None:
    mail = add_mail(sessions, "zhao@example.cn", locale="zh-CN")
    paused = http.post(_preferences(links, mail), data={"pause": "60"}).text
    assert "设置已保存" in paused and (NOW + timedelta(days=60)).date().isoformat() in paused
    assert "减少" in http.post(_preferences(links, mail), data={"frequency": "less"}).text


@pytest.mark.parametrize(
    "body",
    [b"", b"pause=45", b"pause=30&frequency=less", b"pause=30&pause=60", b"frequency=more",
     b"pause=" + b"9" * 2000, b"pause=%FF", b"\xff\xfe"],
)
def test_anything_else_changes_nothing(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session], body: bytes
) -> None:
    response = http.post(_preferences(links, mail), content=body,
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "Nothing changed" in response.text
    saved = customer(sessions, mail.customer_id)
    assert (saved.paused_until, saved.frequency_preference) == (None, None)


def test_a_get_never_changes_preferences(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    assert http.get(f"{_preferences(links, mail)}?pause=30").status_code == 405
    saved = customer(sessions, mail.customer_id)
    assert (saved.paused_until, saved.frequency_preference) == (None, None)
