"""HEAD requests (link scanners, previewers) over real HTTP: answered as GET would be, recorded never."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.store import SurveyAnswer
from edm.tracking import TrackingLinks
from tests.tracking.conftest import SHOP, Mail, stored_events, suppressions

SCANNER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}  # scanners pass for browsers


def _same_answer(head: httpx.Response, get: httpx.Response) -> None:
    assert head.status_code == get.status_code
    assert head.content == b""
    for name in ("content-type", "cache-control", "location", "referrer-policy"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_head_on_the_pixel_answers_like_get_and_records_no_open(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.open_url(mail.outbox_id, mail.customer_id)
    head = http.head(url, headers=SCANNER)
    assert head.status_code == 200 and head.headers["content-type"] == "image/gif"
    assert stored_events(sessions) == []
    get = http.get(url, headers=SCANNER)
    _same_answer(head, get)
    assert [e.kind for e in stored_events(sessions)] == ["open"]


def test_head_on_a_click_link_redirects_like_get_and_records_no_click(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.click_url(mail.outbox_id, mail.customer_id, SHOP)
    head = http.head(url, headers=SCANNER)
    assert head.status_code == 302 and head.headers["location"] == SHOP
    assert stored_events(sessions) == []
    get = http.get(url, headers=SCANNER)
    _same_answer(head, get)
    assert [e.kind for e in stored_events(sessions)] == ["click"]


@pytest.mark.parametrize("kind", ["open", "click"])
def test_head_with_a_bad_token_or_unknown_customer_is_404_like_get(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session], kind: str
) -> None:
    unknown = (mail.outbox_id, 987_654)
    url = links.open_url(*unknown) if kind == "open" else links.click_url(*unknown, SHOP)
    tampered = url[:-6] + ("AAAAAA" if not url.endswith("AAAAAA") else "BBBBBB")
    for target in (url, tampered):
        assert http.head(target).status_code == http.get(target).status_code == 404
    assert stored_events(sessions) == []


def test_head_and_get_on_the_unsubscribe_link_never_unsubscribe(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.unsubscribe_url(mail.outbox_id, mail.customer_id)
    head, get = http.head(url, headers=SCANNER), http.get(url, headers=SCANNER)
    assert head.status_code == get.status_code == 200 and head.content == b""
    assert (stored_events(sessions), suppressions(sessions)) == ([], [])
    one_click = http.post(url, content=b"List-Unsubscribe=One-Click",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200
    assert [e.kind for e in stored_events(sessions)] == ["unsubscribe"]
    assert [s.address_key for s in suppressions(sessions)] == ["wang@example.com"]


def test_head_on_a_survey_link_records_no_answer(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.survey_url(mail.outbox_id, mail.customer_id, "nps", 9)
    head = http.head(url, headers=SCANNER)
    assert head.status_code == 200 and head.content == b""
    with sessions() as session:
        assert session.scalars(select(SurveyAnswer)).all() == []
    assert stored_events(sessions) == []
    assert http.get(url, headers=SCANNER).status_code == 200
    with sessions() as session:
        assert [a.score for a in session.scalars(select(SurveyAnswer))] == [9]
