"""Double opt-in over real HTTP (uvicorn) and a real SMTP relay (aiosmtpd): the form, the confirmation
mail as the relay received it, confirming once, forged tokens, bots, the rate limit, expiry, languages."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urljoin

import pytest
from sqlalchemy import select

from edm.consent import forget
from edm.signup.signups import expire_due
from edm.signup.tokens import confirm_token, form_token
from edm.store import Consent, ConsentHistory, Customer
from edm.suppression import UNSUBSCRIBED, suppress
from edm.tracking import TrackingLinks
from edm.tracking.tokens import sign
from tests.conftest import OLD_SECRET_KEY
from tests.signup.conftest import AGENT, KEY, NOW, Site

CONFIRM_LINK = re.compile(r"https?://[^\s\"<>]+/signup/confirm/[A-Za-z0-9_.-]+")


def _link(mail: EmailMessage) -> str:
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    in_text = CONFIRM_LINK.findall(text.get_content())
    in_html = CONFIRM_LINK.findall(html.get_content())
    assert len(set(in_text)) == 1 and set(in_text) == set(in_html), (in_text, in_html)
    return in_text[0]


def _consent(site: Site, email: str) -> Consent | None:
    with site.sessions() as session:
        return session.scalar(select(Consent).where(Consent.address_key == email.lower()))


# --- the form -----------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "accept", "language", "title", "topic"), [
    ({"lang": "zh-Hant"}, None, "zh-Hant", "訂閱郵件", "節日問候"),
    ({"lang": "zh-Hans"}, "en", "zh-Hans", "订阅邮件", "节日问候"),
    ({}, "zh-TW,zh;q=0.8", "zh-Hant", "訂閱郵件", "節日問候"),
    ({}, "fr-FR, zh-CN;q=0.7, en;q=0.3", "zh-Hans", "订阅邮件", "节日问候"),
    ({}, "de, en-GB;q=0.5", "en", "Sign up", "Greetings"),
    ({}, None, "en", "Sign up", "Greetings"),
])
def test_the_form_speaks_the_asked_or_accepted_language(
    site: Site, query: dict[str, str], accept: str | None, language: str, title: str, topic: str
) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    page = site.http.get(f"{site.url}/signup", params=query, headers=headers)
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    assert f"<h1>{title}</h1>" in page.text and topic in page.text
    assert "流明" in page.text if language != "en" else "Lumen Paper" in page.text
    others = {"en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文"}
    assert all(name in page.text for lang, name in others.items() if lang != language)  # switchable
    assert page.headers["cache-control"].startswith("no-store")


def test_the_honeypot_is_a_real_field_hidden_by_css(site: Site) -> None:
    page = site.http.get(f"{site.url}/signup").text
    field = re.search(r'<input type="text" id="edm-website" name="website"[^>]*>', page)
    assert field is not None and 'tabindex="-1"' in field.group(0)
    assert re.search(r'<div class="edm-hp" aria-hidden="true">.*?</div>', page)
    assert ".edm-hp{position:absolute!important;left:-10000px" in page
    assert 'type="hidden" name="website"' not in page


# --- a person signs up and confirms -------------------------------------------------------


def test_a_person_gets_one_confirmation_mail_and_confirms_exactly_once(site: Site) -> None:
    answer = site.sign_up("Li.Na@Example.com", name="李娜", lang="zh-Hans", topic=["news", "greetings"])
    assert answer.status_code == 200 and "请查收邮件" in answer.text
    (signup,) = site.signups()
    assert (signup.state, signup.email, signup.locale, signup.form) == ("pending", "Li.Na@example.com",
                                                                       "zh-Hans", "hosted")
    assert (signup.ip, signup.user_agent, signup.wording_version) == ("127.0.0.1", AGENT, "2026-12")
    assert signup.topics == "greetings, news" and signup.expires_at == signup.created_at + timedelta(hours=72)
    pending = _consent(site, "li.na@example.com")
    assert pending is not None
    assert (pending.basis, pending.status, pending.source) == ("explicit", "pending", "signup")

    (mail,) = site.mail_to("Li.Na@example.com")
    assert str(mail["From"]) == "Lumen Paper <care@lumen-paper.example>"
    assert mail["To"].addresses[0].display_name == "李娜"
    assert mail["Subject"] == "请确认订阅流明纸业的邮件"
    assert mail["Message-ID"].endswith("@lumen-paper.example>")
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    assert text is not None
    assert "李娜，您好" in text.get_content() and "新闻、节日问候" in text.get_content()
    assert "1 Paper Road, Hangzhou" in text.get_content()  # the brand's identity
    link = _link(mail)
    assert link.startswith(f"{site.url}/signup/confirm/")
    assert site.signups()[0].mailed_at is not None

    before = site.rows()
    shown = site.http.get(link)  # what a mail scanner fetches: a button, nothing confirmed
    assert shown.status_code == 200 and "确认订阅流明纸业的邮件吗" in shown.text
    assert '<form method="post">' in shown.text
    assert site.rows() == before and site.signups()[0].state == "pending"

    site.clock.advance(timedelta(hours=1))
    done = site.http.post(link, headers={"User-Agent": "another agent"})
    assert done.status_code == 200 and "订阅成功" in done.text
    (signup,) = site.signups()
    assert signup.state == "confirmed" and signup.confirmed_at == site.clock.now()
    granted = _consent(site, "li.na@example.com")
    assert granted is not None
    assert (granted.basis, granted.status, granted.source, granted.wording_version) == (
        "explicit", "granted", "signup", "2026-12")
    assert (granted.ip, granted.user_agent) == ("127.0.0.1", AGENT)  # the sign-up's, as proof
    with site.sessions() as session:
        (customer,) = session.scalars(select(Customer))
        assert (customer.external_id, customer.name, customer.email, customer.kind, customer.locale) == (
            f"signup-{signup.id}", "李娜", "Li.Na@example.com", "person", "zh-Hans")
        assert customer.topics_off == "offers" and customer.created_at == site.clock.now()

    after = site.rows()
    again = site.http.post(link)
    assert again.status_code == 200 and "已经确认" in again.text
    assert site.rows() == after and site.signups()[0].confirmed_at == signup.confirmed_at


def test_choosing_every_topic_leaves_none_off(site: Site) -> None:
    site.sign_up("all@example.com", topic=["news", "offers", "greetings"])
    site.http.post(_link(site.mail_to("all@example.com")[0]))
    with site.sessions() as session:
        (customer,) = session.scalars(select(Customer))
    assert customer.topics_off is None and customer.name == "all"


def test_an_existing_customer_keeps_their_basis_until_they_confirm(site: Site) -> None:
    with site.sessions.begin() as session:
        session.add(Customer(external_id="C1", name="Wang", email="wang@example.com", kind="person",
                             locale="en", created_at=site.clock.now(), topics_off="news"))
    site.sign_up("WANG@example.com", topic=["offers"])
    assert _consent(site, "wang@example.com") is None  # no pending row over the existing_customer basis
    site.http.post(_link(site.mail_to("WANG@example.com")[0]))
    with site.sessions() as session:
        (customer,) = session.scalars(select(Customer))  # no second customer for the mailbox
    assert customer.topics_off == "greetings, news"  # "offers" chosen, the others off
    granted = _consent(site, "wang@example.com")
    assert granted is not None and (granted.basis, granted.status) == ("explicit", "granted")


def test_the_name_is_data_never_a_header(site: Site) -> None:
    site.sign_up("eve@example.com", name="Eve\r\nBcc: victim@example.org")
    (mail,) = site.mail_to("eve@example.com")
    assert mail["Bcc"] is None and site.relay.offered == ["eve@example.com"]
    assert "\n" not in str(mail["To"])


def test_a_suppressed_mailbox_gets_the_same_page_and_nothing_else(site: Site) -> None:
    with site.sessions.begin() as session:
        suppress(session, ["gone@example.com"], UNSUBSCRIBED, site.clock.now())
    baseline = site.sign_up("someone@example.com")
    before = site.rows()
    answer = site.sign_up("Gone@example.com")
    assert answer.status_code == 200 and answer.text == baseline.text
    site.mail_to("someone@example.com")
    assert site.rows() == before and "Gone@example.com" not in site.relay.offered


def test_an_erased_address_may_sign_up_again(site: Site) -> None:
    with site.sessions.begin() as session:
        forget(session, ["back@example.com"], [KEY], site.clock.now())
    site.sign_up("back@example.com")
    assert site.http.post(_link(site.mail_to("back@example.com")[0])).status_code == 200
    granted = _consent(site, "back@example.com")
    assert granted is not None and (granted.basis, granted.status) == ("explicit", "granted")


def test_a_bad_address_or_no_topic_gets_the_form_again_and_writes_nothing(site: Site) -> None:
    bad = site.sign_up("not an address")
    assert bad.status_code == 400 and "Please enter a valid email address." in bad.text
    none = site.sign_up("ok@example.com", topic=[])
    assert none.status_code == 400 and "Please choose at least one." in none.text
    assert 'value="ok@example.com"' in none.text
    assert site.rows() == {"signups": 0, "consents": 0, "consent_history": 0, "customers": 0}


# --- forged links -------------------------------------------------------------------------


def test_forged_or_tampered_confirm_tokens_write_nothing(site: Site) -> None:
    site.sign_up("real@example.com")
    link = _link(site.mail_to("real@example.com")[0])
    token = link.rsplit("/", 1)[1]
    (signup,) = site.signups()
    body, mac = token.split(".")
    forged = [
        confirm_token(signup.id, "guessed-nonce", [KEY]),  # the key, but not the nonce
        confirm_token(signup.id, signup.nonce, [OLD_SECRET_KEY.encode()]),  # the nonce, but not the key
        body + "." + ("A" if mac[0] != "A" else "B") + mac[1:],  # the MAC altered
        body[:-2] + ("xy" if body[-2:] != "xy" else "zw") + "." + mac,  # the payload altered
        sign({"k": "sc", "i": signup.id + 1, "n": signup.nonce}, [OLD_SECRET_KEY.encode()]),
        form_token(site.clock.now(), [KEY]),  # a token of another kind
        TrackingLinks(site.url, [KEY]).unsubscribe_url(1, 1).rsplit("/", 1)[1],
        "not-a-token",
    ]
    before = site.rows()
    for bad in forged:
        for method in ("GET", "POST"):
            answer = site.http.request(method, f"{site.url}/signup/confirm/{bad}")
            assert answer.status_code == 404, (bad, method)
            assert "Link not valid" in answer.text
    assert site.rows() == before and site.signups()[0].state == "pending"


# --- bots ---------------------------------------------------------------------------------


@pytest.mark.parametrize("site_options", [{"per_ip_per_hour": 50}])
def test_a_honeypot_a_fast_post_or_no_form_token_is_dropped_and_looks_like_success(site: Site) -> None:
    person = site.sign_up("person@example.com")
    site.mail_to("person@example.com")
    before = site.rows()
    drops = [
        site.sign_up("bot1@example.com", website="http://spam.example"),  # the honeypot filled in
        site.sign_up("bot2@example.com", wait=1.9),  # under min_fill_seconds (2)
        site.sign_up("bot3@example.com", wait=0),
        site.sign_up("bot4@example.com", issued=""),  # no token
        site.sign_up("bot5@example.com", issued=form_token(site.clock.now() - timedelta(minutes=5),
                                                           [OLD_SECRET_KEY.encode()])),  # forged
        site.sign_up("bot6@example.com", form="embed", issued=""),  # an embedded form without its start
    ]
    for answer in drops:
        assert answer.status_code == 200 and answer.text == person.text
    assert site.rows() == before
    assert site.relay.offered == ["person@example.com"]


def test_two_seconds_after_the_form_was_issued_is_a_person(site: Site) -> None:
    site.sign_up("slow@example.com", wait=2.0)
    assert [s.email for s in site.signups()] == ["slow@example.com"]


def test_an_embedded_form_counts_from_the_start_its_script_wrote(site: Site) -> None:
    now_ms = round(site.clock.now().timestamp() * 1000)
    base = {"form": "embed", "lang": "en", "email": "", "website": "", "topic": "news"}
    assert site.post({**base, "email": "fast@example.com", "started": str(now_ms - 1000)}).status_code == 200
    future = str(now_ms + 3_600_000)
    assert site.post({**base, "email": "future@example.com", "started": future}).status_code == 200
    assert site.post({**base, "email": "junk@example.com", "started": "12abc"}).status_code == 200
    assert site.signups() == []
    assert site.post({**base, "email": "embed@example.com", "started": str(now_ms - 8000)}).status_code == 200
    assert [(s.email, s.form) for s in site.signups()] == [("embed@example.com", "embed")]


# --- the rate limit -----------------------------------------------------------------------


def test_the_rate_limit_refuses_the_post_after_the_fifth_within_an_hour(site: Site) -> None:
    answers = [site.sign_up(f"p{n}@example.com") for n in range(5)]
    assert all(a.status_code == 200 for a in answers)
    over = site.sign_up("p5@example.com")
    assert over.status_code == 429 and "Too many attempts" in over.text
    assert over.headers["retry-after"] == "3600"
    assert len(site.signups()) == 5
    site.clock.advance(timedelta(hours=1))
    assert site.sign_up("p6@example.com").status_code == 200
    assert len(site.signups()) == 6


def test_one_mailbox_is_signed_up_at_most_three_times_a_day(site: Site) -> None:
    for _ in range(4):
        site.sign_up("target@example.com")
        site.clock.advance(timedelta(minutes=20))  # past the rate window's reach is not needed: 4 posts
    assert len(site.signups()) == 3
    site.mail_to("target@example.com", 3)
    assert site.relay.offered.count("target@example.com") == 3


# --- expiry -------------------------------------------------------------------------------


def test_an_unconfirmed_sign_up_expires_blanked_and_its_link_says_so(site: Site) -> None:
    site.sign_up("late@example.com", name="Late", lang="zh-Hant")
    link = _link(site.mail_to("late@example.com")[0])
    site.clock.advance(timedelta(hours=71))
    assert expire_due(site.sessions, site.clock.now()) == 0
    site.clock.advance(timedelta(hours=2))
    shown = site.http.get(link)  # past its time, not swept yet: already expired, nothing written
    assert shown.status_code == 410 and "連結已過期" in shown.text
    assert expire_due(site.sessions, site.clock.now()) == 1
    (signup,) = site.signups()
    assert (signup.state, signup.email, signup.address_key, signup.name, signup.ip, signup.user_agent) == (
        "expired", "", "", None, None, None)
    withdrawn = _consent(site, "late@example.com")
    assert withdrawn is not None and (withdrawn.basis, withdrawn.status) == ("none", "withdrawn")
    before = site.rows()
    answer = site.http.post(link)
    assert answer.status_code == 410 and "連結已過期" in answer.text and "重新訂閱" in answer.text
    again = re.search(r'href="([^"]+)">重新訂閱', answer.text)
    assert again is not None
    form = site.http.get(urljoin(link, again.group(1)))
    assert form.status_code == 200 and '<html lang="zh-Hant">' in form.text
    assert site.rows() == before
    with site.sessions() as session:
        assert session.scalar(select(Customer)) is None
        history = list(session.scalars(select(ConsentHistory.status).order_by(ConsentHistory.id)))
    assert history == ["pending", "withdrawn"]


def test_expiry_leaves_a_newer_sign_up_of_the_mailbox_waiting(site: Site) -> None:
    site.sign_up("twice@example.com")
    site.clock.advance(timedelta(hours=48))
    site.sign_up("twice@example.com")
    site.clock.advance(timedelta(hours=25))
    assert expire_due(site.sessions, site.clock.now()) == 1
    assert [s.state for s in site.signups()] == ["expired", "pending"]
    waiting = _consent(site, "twice@example.com")
    assert waiting is not None and waiting.status == "pending"  # not withdrawn: the newer one may confirm
    second = site.mail_to("twice@example.com", 2)[1]
    assert site.http.post(_link(second)).status_code == 200


# --- the relay ----------------------------------------------------------------------------


def test_a_relay_failure_leaves_the_mail_unsent_until_the_next_send(site: Site) -> None:
    from edm.signup.mail import send_confirmations

    site.relay.refuse["wait@example.com"] = "451 4.3.0 try again later"
    site.sign_up("wait@example.com")
    site.offered_to("wait@example.com")
    (signup,) = site.signups()
    assert signup.state == "pending" and signup.mailed_at is None
    del site.relay.refuse["wait@example.com"]
    too_soon = send_confirmations(site.settings, site.sessions, [KEY], site.clock)
    assert too_soon.sent == 0  # the form's own request may still be sending it
    site.clock.advance(timedelta(minutes=5))
    result = send_confirmations(site.settings, site.sessions, [KEY], site.clock)
    assert (result.sent, result.deferred) == (1, 0)
    assert site.signups()[0].mailed_at == site.clock.now()
    assert site.http.post(_link(site.mail_to("wait@example.com")[0])).status_code == 200
    assert send_confirmations(site.settings, site.sessions, [KEY], site.clock).sent == 0  # sent once


def test_an_address_refused_for_good_expires_at_once(site: Site) -> None:
    site.relay.refuse["nobody@example.com"] = "550 5.1.1 no such user"
    site.sign_up("nobody@example.com")
    site.offered_to("nobody@example.com")
    (signup,) = site.signups()
    assert (signup.state, signup.email) == ("expired", "")


def test_the_daemon_job_resends_what_failed_and_expires_what_is_late(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from edm.daemon import jobs
    from edm.daemon.metrics import DaemonState

    monkeypatch.setattr(jobs, "_context", None)  # restored after the test
    site.sign_up("old@example.com")
    site.mail_to("old@example.com")
    site.clock.advance(timedelta(hours=71))
    site.relay.refuse["retry@example.com"] = "421 4.7.0 busy"
    site.sign_up("retry@example.com")
    site.offered_to("retry@example.com")
    del site.relay.refuse["retry@example.com"]
    site.clock.advance(timedelta(hours=2))
    jobs.install(jobs.JobContext(site.settings, site.sessions, site.clock, DaemonState(started_at=NOW)))
    with caplog.at_level(logging.INFO, logger="edm.daemon.jobs"):
        jobs.signup()
    (line,) = [r.getMessage() for r in caplog.records if "job=signup" in r.getMessage()]
    assert line.endswith("expired=1 sent=1 retry=0 refused=0"), line
    assert [(s.state, s.email, s.mailed_at is not None) for s in site.signups()] == [
        ("expired", "", True), ("pending", "retry@example.com", True)]
    site.mail_to("retry@example.com")
