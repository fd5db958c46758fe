"""The preference page's topics and "no personalisation" over HTTP, and what RFC 8058 one-click turns off:
everything by default, only the mail's topic with `compliance.one_click: topic`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import DEFAULT_TOPICS, OneClick
from edm.store import Consent, ConsentHistory, Customer
from edm.tracking import TrackingLinks, create_tracking_app, serve_in_background
from edm.tracking.links import read_token
from tests.tracking.conftest import KEY, NOW, Mail, add_mail, customer, stored_events, suppressions

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _serve(sessions: sessionmaker[Session], clock: FixedClock, one_click: OneClick) -> Iterator[str]:
    app = create_tracking_app(sessions, [KEY], clock, topics=DEFAULT_TOPICS, one_click=one_click)
    with serve_in_background(app) as url:
        yield url


@pytest.fixture
def site(sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[TrackingLinks]:
    """The server with the default topics, one-click unsubscribing from everything."""
    for url in _serve(sessions, clock, "all"):
        yield TrackingLinks(url, [KEY])


@pytest.fixture
def per_topic(sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[TrackingLinks]:
    """The same with `compliance.one_click: topic`."""
    for url in _serve(sessions, clock, "topic"):
        yield TrackingLinks(url, [KEY])


def _page(links: TrackingLinks, mail: Mail, topic: str | None = "offers") -> str:
    return links.unsubscribe_url(mail.outbox_id, mail.customer_id, topic)


@pytest.mark.parametrize(("locale", "titles", "everything", "personalise"), [
    ("en", ["News and product updates", "Offers and promotions", "Holiday and anniversary greetings",
            "Surveys and feedback requests"], "Unsubscribe from everything", "Personalise my email"),
    ("zh-CN", ["新闻与产品动态", "优惠与促销", "节日与纪念日问候", "问卷与意见征询"],
     "退订全部邮件", "为我个性化邮件"),
    ("zh-TW", ["新聞與產品動態", "優惠與促銷", "節日與紀念日問候", "問卷與意見徵詢"],
     "取消訂閱全部郵件", "為我個人化郵件"),
])
def test_the_page_offers_each_topic_in_the_page_language(
    sessions: sessionmaker[Session], site: TrackingLinks, locale: str, titles: list[str], everything: str,
    personalise: str,
) -> None:
    mail = add_mail(sessions, f"{locale}@example.com", locale=locale)
    page = httpx.get(_page(site, mail), timeout=30).text
    for name, title in zip(DEFAULT_TOPICS, titles, strict=True):
        assert f'name="topic" value="{name}" checked> {title}' in page
    assert everything in page and personalise in page
    assert 'name="personalised" value="yes" checked' in page
    assert titles[1] in page.split("<form")[0]  # "this email was about: offers", above the forms


def test_the_page_shows_what_was_chosen(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail
) -> None:
    with sessions.begin() as session:
        found = session.get(Customer, mail.customer_id)
        assert found is not None
        found.topics_off, found.personalised = "news, offers", False
    page = httpx.get(_page(site, mail), timeout=30).text
    assert 'value="news">' in page and 'value="offers">' in page and 'value="greetings" checked>' in page
    assert 'name="personalised" value="yes">' in page  # unticked


def test_keeping_only_greetings_and_turning_personalisation_off(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail
) -> None:
    answer = httpx.post(f"{_page(site, mail)}/preferences", data={"choices": "1", "topic": ["greetings"]},
                        timeout=30)
    assert answer.status_code == 200
    assert "Holiday and anniversary greetings" in answer.text and "not personalised" in answer.text
    saved = customer(sessions, mail.customer_id)
    assert (saved.topics_off, saved.personalised) == ("news, offers, surveys", False)
    assert suppressions(sessions) == [] and stored_events(sessions) == []  # still subscribed

    again = httpx.post(f"{_page(site, mail)}/preferences",
                       data={"choices": "1", "topic": list(DEFAULT_TOPICS), "personalised": "yes"},
                       timeout=30)
    assert again.status_code == 200
    saved = customer(sessions, mail.customer_id)
    assert (saved.topics_off, saved.personalised) == (None, True)


def test_a_topic_no_longer_offered_stays_as_chosen(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail
) -> None:
    with sessions.begin() as session:
        found = session.get(Customer, mail.customer_id)
        assert found is not None
        found.topics_off = "webinars"
    httpx.post(f"{_page(site, mail)}/preferences",
               data={"choices": "1", "topic": ["news"], "personalised": "yes"}, timeout=30)
    assert customer(sessions, mail.customer_id).topics_off == "greetings, offers, surveys, webinars"


def test_the_choice_belongs_to_the_customer_the_link_names(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail
) -> None:
    with sessions.begin() as session:  # another customer record with the same mailbox
        other = Customer(external_id="other", name="Wang Fang Ltd", email="wang@example.com", kind="company",
                         locale="en", created_at=NOW)
        session.add(other)
        session.flush()
        other_id = other.id
    httpx.post(f"{_page(site, mail)}/preferences", data={"choices": "1"}, timeout=30)
    assert customer(sessions, mail.customer_id).topics_off == "greetings, news, offers, surveys"
    assert customer(sessions, other_id).topics_off is None and customer(sessions, other_id).personalised


@pytest.mark.parametrize("body", [
    {"choices": "1", "topic": ["webinars"]},  # not offered
    {"choices": "1", "topic": ["news", "news"]},
    {"choices": "1", "personalised": "maybe"},
    {"choices": "2"},
    {"choices": "1", "pause": "30"},  # two forms in one
])
def test_anything_else_on_the_choices_form_changes_nothing(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail, body: dict[str, object]
) -> None:
    answer = httpx.post(f"{_page(site, mail)}/preferences", data=body, timeout=30)  # type: ignore[arg-type]
    assert answer.status_code == 400 and "Nothing changed" in answer.text
    saved = customer(sessions, mail.customer_id)
    assert (saved.topics_off, saved.personalised, saved.paused_until) == (None, True, None)


@pytest.mark.parametrize("forge", ["tampered", "other_kind", "other_customer"])
def test_a_post_without_a_valid_token_writes_nothing(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail, forge: str
) -> None:
    url = _page(site, mail)
    if forge == "tampered":
        url = url[:-2] + ("AA" if not url.endswith("AA") else "BB")
    elif forge == "other_kind":
        url = site.open_url(mail.outbox_id, mail.customer_id).removesuffix(".gif").replace("/o/", "/u/")
    else:  # a genuine token for a mail of another customer's, pointed at this customer
        other = add_mail(sessions, "li@example.com")
        url = site.unsubscribe_url(other.outbox_id, mail.customer_id, "offers")
    for path, body in [("/preferences", {"choices": "1"}), ("", ONE_CLICK), ("", {})]:
        answer = httpx.post(url + path, data=body, timeout=30)
        assert answer.status_code == 404
    saved = customer(sessions, mail.customer_id)
    assert (saved.topics_off, saved.personalised) == (None, True)
    assert suppressions(sessions) == [] and stored_events(sessions) == []
    assert _consents(sessions) == []


def _consents(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, str, str | None, str | None]]:
    """The consent history, oldest first: address, basis, status, source, ip, user agent."""
    with sessions() as session:
        return [(c.address_key, c.basis, c.status, c.source, c.ip, c.user_agent)
                for c in session.scalars(select(ConsentHistory).order_by(ConsentHistory.id))]


def test_keeping_a_topic_is_explicit_consent_with_its_proof_and_unsubscribing_withdraws_it(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail
) -> None:
    browser = {"User-Agent": "Mozilla/5.0 (pref test)"}
    none_kept = httpx.post(f"{_page(site, mail)}/preferences", data={"choices": "1"}, headers=browser,
                           timeout=30)
    assert none_kept.status_code == 200 and _consents(sessions) == []  # keeping nothing consents to nothing
    kept = httpx.post(f"{_page(site, mail)}/preferences", data={"choices": "1", "topic": ["greetings"]},
                      headers=browser, timeout=30)
    assert kept.status_code == 200
    assert _consents(sessions) == [
        ("wang@example.com", "explicit", "granted", "preferences", "127.0.0.1", "Mozilla/5.0 (pref test)")]
    with sessions() as session:
        current = session.get(Consent, "wang@example.com")
        assert current is not None and (current.basis, current.status) == ("explicit", "granted")
    assert httpx.post(_page(site, mail), data=ONE_CLICK, headers=browser, timeout=30).status_code == 200
    assert _consents(sessions)[-1] == (
        "wang@example.com", "none", "withdrawn", "unsubscribe", None, "Mozilla/5.0 (pref test)")
    with sessions() as session:
        current = session.get(Consent, "wang@example.com")
        assert current is not None and (current.basis, current.status) == ("none", "withdrawn")


def test_one_click_unsubscribes_from_everything_by_default(
    sessions: sessionmaker[Session], site: TrackingLinks, mail: Mail
) -> None:
    answer = httpx.post(_page(site, mail, "offers"), data=ONE_CLICK, timeout=30)
    assert answer.status_code == 200 and "no more email from us" in answer.text
    assert [s.email for s in suppressions(sessions)] == ["wang@example.com"]
    assert customer(sessions, mail.customer_id).topics_off is None


def test_one_click_per_topic_turns_off_only_the_mails_topic(
    sessions: sessionmaker[Session], per_topic: TrackingLinks, mail: Mail
) -> None:
    answer = httpx.post(_page(per_topic, mail, "offers"), data=ONE_CLICK, timeout=30)
    assert answer.status_code == 200 and "Offers and promotions" in answer.text
    assert customer(sessions, mail.customer_id).topics_off == "offers"
    assert suppressions(sessions) == [] and stored_events(sessions) == []
    httpx.post(_page(per_topic, mail, "greetings"), data=ONE_CLICK, timeout=30)
    assert customer(sessions, mail.customer_id).topics_off == "greetings, offers"


def test_per_topic_one_click_still_stops_everything_without_a_topic_or_from_the_page(
    sessions: sessionmaker[Session], per_topic: TrackingLinks, clock: FixedClock
) -> None:
    service = add_mail(sessions, "service@example.com")  # a mail of a campaign without a topic
    httpx.post(_page(per_topic, service, None), data=ONE_CLICK, timeout=30)
    page_button = add_mail(sessions, "page@example.com")  # the page's own button posts no one-click body
    httpx.post(_page(per_topic, page_button, "offers"), data={}, timeout=30)
    assert sorted(s.email for s in suppressions(sessions)) == ["page@example.com", "service@example.com"]


def test_the_topic_is_sealed_in_the_unsubscribe_token_only() -> None:
    links = TrackingLinks("https://t.example", [KEY])
    token = links.unsubscribe_url(1, 2, "offers").rsplit("/", 1)[1]
    link = read_token(token, [KEY], "u")
    assert link is not None and (link.customer_id, link.outbox_id, link.topic) == (2, 1, "offers")
    assert read_token(links.unsubscribe_url(1, 2).rsplit("/", 1)[1], [KEY], "u").topic is None  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not a topic"):
        links.unsubscribe_url(1, 2, "Offers!")



@pytest.mark.parametrize(("locale", "kept", "generic"), [
    ("en", "will receive: Holiday and anniversary greetings.", "not personalised"),
    ("zh-CN", "将收到：节日与纪念日问候。", "不做个性化"),
    ("zh-HK", "將收到：節日與紀念日問候。", "不做個人化"),
])
def test_the_saved_choices_are_told_in_the_page_language(
    sessions: sessionmaker[Session], site: TrackingLinks, locale: str, kept: str, generic: str
) -> None:
    mail = add_mail(sessions, f"{locale}@example.com", locale=locale)
    answer = httpx.post(f"{_page(site, mail)}/preferences", data={"choices": "1", "topic": ["greetings"]},
                        timeout=30)
    assert answer.status_code == 200 and kept in answer.text and generic in answer.text
