"""Storing an answer without the server: refusals, comments, and what is written, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.store import Customer, Event, OutboxMessage, SurveyAnswer
from edm.surveys.answers import COMMENT_MAX, RecordedAnswer, clean_comment, record_answer, respondent

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def add_mail(sessions: sessionmaker[Session], email: str, locale: str = "en") -> tuple[int, int]:
    with sessions.begin() as session:
        customer = Customer(external_id=email, name=email, email=email, kind="person", locale=locale,
                            created_at=NOW)
        session.add(customer)
        session.flush()
        mail = OutboxMessage(key=f"survey:{customer.id}", campaign="survey", customer_id=customer.id,
                             occurrence=date(2026, 11, 24), to_address=email, state="sent",
                             next_attempt_at=NOW, created_at=NOW, sent_at=NOW)
        session.add(mail)
        session.flush()
        return customer.id, mail.id


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(SurveyAnswer)) or 0,
                session.scalar(select(func.count()).select_from(Event)) or 0)


def test_answers_for_unknown_or_foreign_mail_write_nothing(any_sessions: sessionmaker[Session]) -> None:
    customer_id, outbox_id = add_mail(any_sessions, "wang@example.com")
    _, others = add_mail(any_sessions, "li@example.com")
    for customer, mail in ((999_999, outbox_id), (customer_id, 999_999), (customer_id, others)):
        with any_sessions.begin() as session:
            assert record_answer(session, customer_id=customer, outbox_id=mail, survey="nps", score=9,
                                 now=NOW) is None
            assert respondent(session, customer, mail) is None
    assert counts(any_sessions) == (0, 0)


def test_a_score_off_the_scale_is_a_programming_error(any_sessions: sessionmaker[Session]) -> None:
    customer_id, outbox_id = add_mail(any_sessions, "wang@example.com")
    with any_sessions.begin() as session, pytest.raises(ValueError, match="not a csat score"):
        record_answer(session, customer_id=customer_id, outbox_id=outbox_id, survey="csat", score=0, now=NOW)


def test_comments_are_kept_replaced_and_never_blanked(any_sessions: sessionmaker[Session]) -> None:
    customer_id, outbox_id = add_mail(any_sessions, "chen@example.hk", locale="zh-HK")

    def give(score: int, comment: str | None, at: datetime, click: bool = True) -> RecordedAnswer | None:
        with any_sessions.begin() as session:
            return record_answer(session, customer_id=customer_id, outbox_id=outbox_id, survey="csat",
                                 score=score, now=at, comment=comment, click=click)

    first = give(4, " 送貨很快 ", NOW)
    assert first == RecordedAnswer("csat", 4, "送貨很快", "chen@example.hk", "zh-HK")
    assert give(4, "", NOW + timedelta(hours=1), click=False) == first  # an empty box keeps the comment
    assert give(4, "包裝破了", NOW + timedelta(hours=2), click=False) == RecordedAnswer(
        "csat", 4, "包裝破了", "chen@example.hk", "zh-HK")
    with any_sessions() as session:
        [row] = session.scalars(select(SurveyAnswer))
        assert (row.answered_at, row.updated_at) == (NOW, NOW + timedelta(hours=2))
    assert counts(any_sessions) == (1, 1)  # only the first call was a click


@given(st.one_of(st.none(), st.text(max_size=COMMENT_MAX + 50)))
def test_a_cleaned_comment_is_trimmed_bounded_and_none_when_blank(comment: str | None) -> None:
    cleaned = clean_comment(comment)
    kept = "".join(ch for ch in comment or "" if ch in "\t\n" or (ch >= " " and ch != "\x7f"))
    if not kept.strip():
        assert cleaned is None
        return
    assert cleaned is not None and 0 < len(cleaned) <= COMMENT_MAX
    assert cleaned == cleaned.strip() and "\x00" not in cleaned and "\r" not in cleaned
    assert all(ch in "\t\n" or ch.isprintable() or not ch.isascii() for ch in cleaned)


def test_a_comment_keeps_its_lines_but_not_control_characters() -> None:
    assert clean_comment("\x00 slow\r\ndelivery\x07\tagain \x1b") == "slow\ndelivery\tagain"
    assert clean_comment("\x00\r\n") is None
