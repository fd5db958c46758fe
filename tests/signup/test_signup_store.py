"""The store side of double opt-in on SQLite and PostgreSQL: who gets a pending consent, confirming once,
topics, expiry and what it blanks and withdraws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.consent import ConsentGiven, record
from edm.signup import signups
from edm.signup.signups import Outcome, SignupRequest, topics_off
from edm.store import Consent, ConsentHistory, Customer, Signup

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OFFERED = ("news", "offers", "greetings")


def _request(email: str = "mei@example.com", topics: tuple[str, ...] | None = ("news",)) -> SignupRequest:
    return SignupRequest(email, "Mei", "zh-Hant", topics, "hosted", "2026-12", "203.0.113.9", "agent/1.0")


def _submit(sessions: sessionmaker[Session], request: SignupRequest, now: datetime = NOW) -> int | None:
    with sessions.begin() as session:
        return signups.submit(session, request, now, 72)


def _confirm(sessions: sessionmaker[Session], signup_id: int, nonce: str | None = None,
             now: datetime = NOW + timedelta(hours=1)) -> signups.Confirmation:
    with sessions.begin() as session:
        row = session.get(Signup, signup_id)
        assert row is not None
        return signups.confirm(session, signup_id, nonce if nonce is not None else row.nonce, now, OFFERED)


def _consent(sessions: sessionmaker[Session], key: str) -> tuple[str, str, str] | None:
    with sessions() as session:
        row = session.get(Consent, key)
        return None if row is None else (row.basis, row.status, row.source)


def test_a_new_address_is_pending_until_confirmed_once(any_sessions: sessionmaker[Session]) -> None:
    signup_id = _submit(any_sessions, _request())
    assert signup_id is not None
    assert _consent(any_sessions, "mei@example.com") == ("explicit", "pending", "signup")
    first = _confirm(any_sessions, signup_id)
    assert first.outcome is Outcome.CONFIRMED and first.customer_id is not None
    assert _consent(any_sessions, "mei@example.com") == ("explicit", "granted", "signup")
    assert _confirm(any_sessions, signup_id).outcome is Outcome.ALREADY
    with any_sessions() as session:
        (customer,) = session.scalars(select(Customer))
        assert (customer.locale, customer.topics_off, customer.kind) == (
            "zh-Hant", "greetings, offers", "person")
        granted = session.get(Consent, "mei@example.com")
        assert granted is not None and (granted.ip, granted.user_agent, granted.wording_version) == (
            "203.0.113.9", "agent/1.0", "2026-12")
        assert len(list(session.scalars(select(ConsentHistory)))) == 2


def test_a_wrong_nonce_or_a_late_confirm_writes_nothing(any_sessions: sessionmaker[Session]) -> None:
    signup_id = _submit(any_sessions, _request())
    assert signup_id is not None
    assert _confirm(any_sessions, signup_id, nonce="x" * 32).outcome is Outcome.UNKNOWN
    with any_sessions.begin() as session:
        assert signups.confirm(session, signup_id + 1, "x", NOW, OFFERED).outcome is Outcome.UNKNOWN
    late = _confirm(any_sessions, signup_id, now=NOW + timedelta(hours=72))
    assert late.outcome is Outcome.EXPIRED and late.locale == "zh-Hant"
    assert _consent(any_sessions, "mei@example.com") == ("explicit", "pending", "signup")
    with any_sessions() as session:
        assert session.scalar(select(Customer)) is None


@pytest.mark.parametrize(("status", "pending_written"), [("granted", False), ("withdrawn", True),
                                                          ("pending", True)])
def test_a_pending_sign_up_never_takes_a_granted_consent_away(
    any_sessions: sessionmaker[Session], status: str, pending_written: bool
) -> None:
    basis = "explicit" if status == "granted" else "none"
    with any_sessions.begin() as session:
        record(session, [ConsentGiven("mei@example.com", basis, status, "import:crm.csv",
                                      NOW - timedelta(days=9))])
    _submit(any_sessions, _request("MEI@example.com"))
    expected = ("explicit", "pending", "signup") if pending_written else (basis, status, "import:crm.csv")
    assert _consent(any_sessions, "mei@example.com") == expected


def test_a_customer_on_file_keeps_the_existing_customer_basis(any_sessions: sessionmaker[Session]) -> None:
    with any_sessions.begin() as session:
        session.add(Customer(external_id="C9", name="Mei Co", email="mei@example.com", kind="company",
                             locale="en", created_at=NOW - timedelta(days=30), topics_off="offers"))
    signup_id = _submit(any_sessions, _request(topics=("offers",)))
    assert signup_id is not None and _consent(any_sessions, "mei@example.com") is None
    _confirm(any_sessions, signup_id)
    with any_sessions() as session:
        (customer,) = session.scalars(select(Customer))
    assert (customer.external_id, customer.kind, customer.topics_off) == ("C9", "company", "greetings, news")


def test_without_topics_offered_nothing_is_turned_off(any_sessions: sessionmaker[Session]) -> None:
    signup_id = _submit(any_sessions, _request(topics=None))
    assert signup_id is not None
    with any_sessions.begin() as session:
        signups.confirm(session, signup_id, session.get(Signup, signup_id).nonce, NOW, ())  # type: ignore[union-attr]
        (customer,) = session.scalars(select(Customer))
        assert customer.topics_off is None


def test_expiry_blanks_the_person_and_withdraws_only_its_own_pending_consent(
    any_sessions: sessionmaker[Session],
) -> None:
    first = _submit(any_sessions, _request("a@example.com"))
    _submit(any_sessions, _request("b@example.com"))
    with any_sessions.begin() as session:  # b's consent meanwhile came from elsewhere
        record(session, [ConsentGiven("b@example.com", "explicit", "granted", "api",
                                      NOW + timedelta(hours=1))])
    assert first is not None
    later = NOW + timedelta(hours=73)
    assert signups.expire_due(any_sessions, later) == 2
    assert signups.expire_due(any_sessions, later) == 0
    assert _consent(any_sessions, "a@example.com") == ("none", "withdrawn", "signup expired")
    assert _consent(any_sessions, "b@example.com") == ("explicit", "granted", "api")
    with any_sessions() as session:
        rows = list(session.scalars(select(Signup).order_by(Signup.id)))
    assert {(r.state, r.email, r.address_key, r.name, r.ip, r.user_agent) for r in rows} == {
        ("expired", "", "", None, None, None)}
    assert _confirm(any_sessions, first, now=later).outcome is Outcome.EXPIRED


def test_three_sign_ups_of_one_mailbox_a_day_at_most(any_sessions: sessionmaker[Session]) -> None:
    ids = [_submit(any_sessions, _request("A@example.com"), NOW + timedelta(hours=n)) for n in range(4)]
    assert [i is not None for i in ids] == [True, True, True, False]
    assert _submit(any_sessions, _request("a@example.com"), NOW + timedelta(hours=24, minutes=1)) is not None


@given(offered=st.sets(st.sampled_from((*OFFERED, "surveys"))),
       chosen=st.sets(st.sampled_from((*OFFERED, "surveys"))),
       before=st.sets(st.sampled_from((*OFFERED, "surveys"))))
def test_topics_off_are_the_offered_ones_not_chosen_plus_the_others_as_before(
    offered: set[str], chosen: set[str], before: set[str]
) -> None:
    chosen &= offered
    result = topics_off(signups.join_topics(before) or None, offered, chosen)
    off = set(signups.split_topics(result))
    assert off == (offered - chosen) | (before - offered)
    assert result is None if not off else result == ", ".join(sorted(off))
