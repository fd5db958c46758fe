"""One-click surveys over real HTTP (uvicorn on loopback), on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.store import CustomerProfile, OutboxMessage, ProfileTransition, SurveyAnswer
from edm.surveys.scores import Survey
from edm.tracking import TrackingLinks, sign
from tests.tracking.conftest import KEY, NOW, SHOP, Mail, add_mail, stored_events

BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130"}


@pytest.fixture
def sessions(any_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Every test here runs on both databases: the answer is one upsert statement per dialect."""
    return any_sessions


def stored_answers(sessions: sessionmaker[Session]) -> list[SurveyAnswer]:
    with sessions() as session:
        return list(session.scalars(select(SurveyAnswer).order_by(SurveyAnswer.id)))


def profile_of(sessions: sessionmaker[Session], customer_id: int) -> CustomerProfile | None:
    with sessions() as session:
        return session.get(CustomerProfile, customer_id)


def satisfaction(sessions: sessionmaker[Session], customer_id: int) -> tuple[Any, ...]:
    """The profile's survey fields and its loyalty class."""
    profile = profile_of(sessions, customer_id)
    assert profile is not None
    return (profile.satisfaction, profile.satisfaction_trend, profile.nps_score, profile.csat_score,
            profile.surveyed_at, profile.loyalty)


def transitions(sessions: sessionmaker[Session]) -> list[tuple[str, str | None, str, Any]]:
    with sessions() as session:
        rows = session.scalars(select(ProfileTransition).order_by(ProfileTransition.id))
        return [(t.dimension, t.old, t.new, t.computed_at) for t in rows]


def add_profile(sessions: sessionmaker[Session], customer_id: int, loyalty: str = "loyal") -> None:
    with sessions.begin() as session:
        session.add(CustomerProfile(
            customer_id=customer_id, value_tier="high", lifecycle_stage="active", loyalty=loyalty,
            order_count=12, revenue=Decimal("9000.00"), computed_at=NOW - timedelta(days=1),
        ))


def answer(
    http: httpx.Client, links: TrackingLinks, mail: Mail, survey: Survey, score: int
) -> httpx.Response:
    return http.get(links.survey_url(mail.outbox_id, mail.customer_id, survey, score), headers=BROWSER)


def test_a_click_records_the_answer_once_and_counts_as_a_click(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    response = answer(http, links, mail, "nps", 8)

    assert response.status_code == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "Thank you: you answered 8" in response.text
    assert '<form method="post">' in response.text
    assert '<textarea id="comment" name="comment"' in response.text
    [row] = stored_answers(sessions)
    assert (row.customer_id, row.outbox_id, row.survey, row.score, row.comment) == (
        mail.customer_id, mail.outbox_id, "nps", 8, None)
    assert row.answered_at == row.updated_at == NOW
    [event] = stored_events(sessions)
    assert (event.kind, event.outbox_id, event.url, event.machine) == ("click", mail.outbox_id, None, False)


def test_the_same_score_again_changes_nothing_but_is_still_a_click(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    answer(http, links, mail, "nps", 8)
    clock.advance(timedelta(hours=2))
    response = answer(http, links, mail, "nps", 8)

    assert response.status_code == 200 and "you answered 8" in response.text
    [row] = stored_answers(sessions)
    assert (row.score, row.answered_at, row.updated_at) == (8, NOW, NOW)
    assert [e.kind for e in stored_events(sessions)] == ["click", "click"]


def test_re_clicking_another_score_changes_the_same_answer(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    answer(http, links, mail, "nps", 8)
    clock.advance(timedelta(hours=2))
    response = answer(http, links, mail, "nps", 3)

    assert "you answered 3" in response.text
    [row] = stored_answers(sessions)
    assert (row.score, row.answered_at, row.updated_at) == (3, NOW, NOW + timedelta(hours=2))


def test_each_survey_of_a_mail_has_its_own_answer(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    answer(http, links, mail, "nps", 10)
    answer(http, links, mail, "csat", 4)
    assert sorted((a.survey, a.score) for a in stored_answers(sessions)) == [("csat", 4), ("nps", 10)]


def test_concurrent_clicks_on_one_mail_leave_one_answer(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    add_profile(sessions, mail.customer_id)
    scores = [0, 10, 5, 9, 7, 2, 8, 6]
    with ThreadPoolExecutor(len(scores)) as pool:
        responses = list(pool.map(lambda score: answer(http, links, mail, "nps", score), scores))

    assert [r.status_code for r in responses] == [200] * len(scores)
    [row] = stored_answers(sessions)
    assert row.score in scores
    assert satisfaction(sessions, mail.customer_id)[2] == row.score  # the profile saw the last change
    assert len(stored_events(sessions)) == len(scores)


def _signed(**fields: object) -> str:
    return sign(fields, [KEY])


def test_forged_tampered_and_foreign_links_get_404_and_write_nothing(
    http: httpx.Client, links: TrackingLinks, base_url: str, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    ids = (mail.outbox_id, mail.customer_id)
    other = add_mail(sessions, "li@example.com")
    good = links.survey_url(*ids, "nps", 9)
    at = len(base_url) + len("/s/") + 5
    tampered = good[:at] + ("A" if good[at] != "A" else "B") + good[at + 1 :]
    ours = TrackingLinks(base_url, [KEY])
    token = good.rsplit("/", 1)[1]
    m, c = ids

    bad = [
        tampered,
        TrackingLinks(base_url, [b"not-our-key"]).survey_url(*ids, "nps", 9),  # forged
        f"{base_url}/s/not-a-token",
        # a token of another kind on /s/
        f"{base_url}/s/" + links.open_url(*ids).rsplit("/", 1)[1].removesuffix(".gif"),
        f"{base_url}/s/" + links.click_url(*ids, SHOP).rsplit("/", 1)[1],
        f"{base_url}/s/" + links.unsubscribe_url(*ids).rsplit("/", 1)[1],
        # correctly signed, but no score the mail could have offered
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='nps', v=11)}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='nps', v=-1)}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='csat', v=0)}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='csat', v=6)}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='nps', v='7')}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='nps', v=True)}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='nps', v=7.0)}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='ces', v=3)}",
        f"{base_url}/s/{_signed(c=c, k='s', m=m, q='nps', v=7, x=1)}",
        # signed, but the customer or the mail does not fit
        ours.survey_url(mail.outbox_id, 999_999, "nps", 9),
        ours.survey_url(999_999, mail.customer_id, "nps", 9),
        ours.survey_url(other.outbox_id, mail.customer_id, "nps", 9),
    ]
    for url in bad:
        assert http.get(url, headers=BROWSER).status_code == 404, url
        assert http.post(url, data={"comment": "hello"}, headers=BROWSER).status_code == 404, url
    # a survey token is no click, open or unsubscribe either
    assert http.get(f"{base_url}/c/{token}").status_code == 404
    assert http.get(f"{base_url}/o/{token}.gif").status_code == 404
    assert http.post(f"{base_url}/u/{token}").status_code == 404

    assert stored_answers(sessions) == [] and stored_events(sessions) == []


def test_a_comment_is_stored_and_shown_escaped(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    url = links.survey_url(mail.outbox_id, mail.customer_id, "csat", 2)
    http.get(url, headers=BROWSER)
    clock.advance(timedelta(minutes=3))
    comment = '  <script>alert(1)</script> "late" & 很慢\n'

    response = http.post(url, data={"comment": comment}, headers=BROWSER)

    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;late&quot; &amp; 很慢" in response.text
    assert "<script>" not in response.text and "you answered 2" in response.text
    [row] = stored_answers(sessions)
    assert (row.score, row.comment) == (2, '<script>alert(1)</script> "late" & 很慢')
    assert (row.answered_at, row.updated_at) == (NOW, NOW + timedelta(minutes=3))
    assert len(stored_events(sessions)) == 1  # the comment is no second click

    # the thank-you page holds the comment for editing, escaped; an empty box keeps it
    again = http.get(url, headers=BROWSER).text
    assert "&lt;script&gt;" in again and "<script>" not in again
    kept = http.post(url, data={"comment": "   "}, headers=BROWSER)
    assert kept.status_code == 200 and "<script>" not in kept.text
    assert stored_answers(sessions)[0].comment == '<script>alert(1)</script> "late" & 很慢'


def test_a_comment_is_cut_to_2000_characters_and_a_huge_body_is_refused(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.survey_url(mail.outbox_id, mail.customer_id, "nps", 6)
    assert http.post(url, data={"comment": "慢" * 2500}, headers=BROWSER).status_code == 413
    assert stored_answers(sessions) == [] and stored_events(sessions) == []

    assert http.post(url, data={"comment": "慢" * 2000 + "x" * 10}, headers=BROWSER).status_code == 200
    assert stored_answers(sessions)[0].comment == "慢" * 2000


@pytest.mark.parametrize(
    ("headers", "sent_ago"),
    [
        ({"User-Agent": "Mimecast URL Protect"}, timedelta(hours=1)),
        ({"User-Agent": "Mozilla/5.0 (compatible; SafeLinks)"}, timedelta(hours=1)),
        (BROWSER, timedelta(seconds=3)),  # a browser agent, but seconds after sending: a scanner's
        ({**BROWSER, "X-Forwarded-For": "17.58.101.9"}, timedelta(hours=1)),  # Apple's proxy network
    ],
)
def test_a_scanner_gets_a_button_and_only_its_post_answers(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session],
    headers: dict[str, str], sent_ago: timedelta,
) -> None:
    mail = add_mail(sessions, "scanned@example.com", sent_at=NOW - sent_ago)
    url = links.survey_url(mail.outbox_id, mail.customer_id, "nps", 9)

    page = http.get(url, headers=headers)

    assert page.status_code == 200
    assert '<form method="post">' in page.text and "Yes, my answer is 9" in page.text
    assert "Thank you" not in page.text
    assert stored_answers(sessions) == [] and stored_events(sessions) == []

    confirmed = http.post(url, headers=BROWSER)
    assert confirmed.status_code == 200 and "you answered 9" in confirmed.text
    assert [(a.survey, a.score) for a in stored_answers(sessions)] == [("nps", 9)]
    assert [(e.kind, e.machine) for e in stored_events(sessions)] == [("click", False)]


@pytest.mark.parametrize(
    ("locale", "lang", "words"),
    [("zh-HK", "zh-Hant", "謝謝！您的評分是 7 分"), ("zh-TW", "zh-Hant", "謝謝！您的評分是 7 分"),
     ("zh-CN", "zh-Hans", "谢谢！您的评分是 7 分"), ("fr-FR", "en", "Thank you: you answered 7")],
)
def test_the_page_is_in_the_customers_language(
    http: httpx.Client, links: TrackingLinks, sessions: sessionmaker[Session],
    locale: str, lang: str, words: str,
) -> None:
    mail = add_mail(sessions, f"{locale}@example.com", locale=locale)
    page = answer(http, links, mail, "nps", 7).text
    assert f'<html lang="{lang}">' in page and words in page
    if lang == "zh-Hant":
        assert "评分" not in page and "送出" in page
    scanned = http.get(links.survey_url(mail.outbox_id, mail.customer_id, "nps", 7),
                       headers={"User-Agent": "Proofpoint URL Defense"}).text
    assert f'<html lang="{lang}">' in scanned


def test_answers_update_the_profile_and_a_detractor_is_no_longer_loyal(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session], clock: FixedClock
) -> None:
    add_profile(sessions, mail.customer_id, loyalty="loyal")
    later = _another_mail(sessions, mail)

    answer(http, links, mail, "nps", 9)
    assert satisfaction(sessions, mail.customer_id) == ("promoter", None, 9, None, NOW, "loyal")
    assert transitions(sessions) == []

    month = NOW + timedelta(days=30)
    clock.advance(timedelta(days=30))
    answer(http, links, later, "nps", 3)
    detractor = ("detractor", "declining", 3, None, month, "fairly_loyal")
    assert satisfaction(sessions, mail.customer_id) == detractor
    assert transitions(sessions) == [("loyalty", "loyal", "fairly_loyal", month)]

    # answering better again shows in the trend; loyalty comes back only with reclassification
    clock.advance(timedelta(days=1))
    answer(http, links, later, "nps", 10)
    assert satisfaction(sessions, mail.customer_id)[:4] == ("promoter", "improving", 10, None)
    assert len(transitions(sessions)) == 1

    answer(http, links, mail, "csat", 2)  # the latest answer sets the class, whichever survey
    assert satisfaction(sessions, mail.customer_id)[:4] == ("detractor", None, 10, 2)


def test_a_customer_without_a_profile_still_answers(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    assert answer(http, links, mail, "nps", 2).status_code == 200
    assert len(stored_answers(sessions)) == 1
    assert profile_of(sessions, mail.customer_id) is None and transitions(sessions) == []


def _another_mail(sessions: sessionmaker[Session], mail: Mail) -> Mail:
    """A second mail to the same customer (a later campaign)."""
    with sessions.begin() as session:
        first = session.get(OutboxMessage, mail.outbox_id)
        assert first is not None
        later = OutboxMessage(
            key=f"satisfaction:0:{mail.customer_id}", campaign="satisfaction", step=0,
            customer_id=mail.customer_id, occurrence=first.occurrence, to_address=first.to_address,
            state="sent", attempts=1, next_attempt_at=first.next_attempt_at, created_at=first.created_at,
            sent_at=first.sent_at,
        )
        session.add(later)
        session.flush()
        return Mail(mail.customer_id, later.id)


def test_control_characters_in_a_comment_are_dropped_not_a_server_error(
    http: httpx.Client, links: TrackingLinks, mail: Mail, sessions: sessionmaker[Session]
) -> None:
    url = links.survey_url(mail.outbox_id, mail.customer_id, "nps", 7)
    response = http.post(url, content=b"comment=ok%00%0D%0Afine%1B", headers={
        **BROWSER, "content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert stored_answers(sessions)[0].comment == "ok\nfine"
