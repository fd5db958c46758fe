"""Storing survey answers, and what they change in the customer's profile.

The tracking server calls `record_answer` once a signed score link is verified. One mail has
one answer per survey: a re-click changes it, it never adds another. The profile's satisfaction
fields are refreshed from all the customer's answers at once (edm.surveys.scores), so the
planner and audience rules see the answer as soon as it is given, not at the next nightly run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session

from edm.store import Customer, CustomerProfile, Event, OutboxMessage, ProfileTransition, SurveyAnswer
from edm.store.engine import dialect_insert
from edm.surveys.scores import Answer, Survey, capped_loyalty, is_score, satisfaction_of, standing

COMMENT_MAX = 2000  # characters kept of a comment
USER_AGENT_MAX = 500  # the width of events.user_agent
_CONTROLS = {code: None for code in (*range(0x20), 0x7F) if chr(code) not in "\t\n"}


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """What the thank-you page shows, and to whom."""

    survey: Survey
    score: int
    comment: str | None  # the stored comment (this one, or an earlier one kept)
    email: str
    locale: str


@dataclass(frozen=True, slots=True)
class Respondent:
    """Who a survey link is for, and when their mail went out (to tell a scanner's click)."""

    email: str
    locale: str
    sent_at: datetime | None


def respondent(session: Session, customer_id: int, outbox_id: int) -> Respondent | None:
    """The customer a survey link names, or None when they or the mail are unknown or the mail
    is someone else's: the same refusals as `record_answer`."""
    customer = session.get(Customer, customer_id)
    mail = session.get(OutboxMessage, outbox_id)
    if customer is None or mail is None or mail.customer_id != customer_id:
        return None
    return Respondent(customer.email, customer.locale, mail.sent_at)


def clean_comment(comment: str | None) -> str | None:
    """A comment as stored: stripped and at most COMMENT_MAX characters; None for an empty one.

    Control characters other than tab and newline go (PostgreSQL refuses NUL in text; the rest
    are noise), and browsers' CRLF line ends become LF.
    """
    text = (comment or "").replace("\r\n", "\n").translate(_CONTROLS)
    return text.strip()[:COMMENT_MAX].rstrip() or None


def record_answer(
    session: Session,
    *,
    customer_id: int,
    outbox_id: int,
    survey: Survey,
    score: int,
    now: datetime,
    comment: str | None = None,
    click: bool = True,
    user_agent: str | None = None,
) -> RecordedAnswer | None:
    """Store `score` as the answer to `survey` in mail `outbox_id`, then refresh the profile.

    None, with nothing written, when the customer or the mail does not exist or the mail is
    another customer's. The same score again changes nothing; a comment (see `clean_comment`;
    empty keeps the one there) is saved. `click` says a person followed the score link, which
    is engagement like any click: one `click` event is appended (False for a comment added later).
    """
    if not is_score(survey, score):
        raise ValueError(f"{score!r} is not a {survey} score")
    person = respondent(session, customer_id, outbox_id)
    if person is None:
        return None
    # Lock the profile first: two answers of one customer at once then refresh it one after the other.
    profile = session.scalars(
        select(CustomerProfile).where(CustomerProfile.customer_id == customer_id).with_for_update()
    ).one_or_none()
    _upsert(session, customer_id, outbox_id, survey, score, clean_comment(comment), now)
    if click:  # the mail and its customer are checked above
        session.add(Event(kind="click", customer_id=customer_id, outbox_id=outbox_id, occurred_at=now,
                          user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None))
    if profile is not None:
        _refresh_profile(session, profile, now)
    _tell_webhooks(session, customer_id, outbox_id, survey, score, now)
    stored = session.scalars(
        select(SurveyAnswer.comment).where(SurveyAnswer.outbox_id == outbox_id, SurveyAnswer.survey == survey)
    ).one()
    return RecordedAnswer(survey, score, stored, person.email, person.locale)


def _tell_webhooks(session: Session, customer_id: int, outbox_id: int, survey: Survey, score: int,
                   now: datetime) -> None:
    """survey.answered, and customer.detractor for a detractor's answer, in this transaction (edm.webhooks);
    the same score again is the same event (its id is the mail, survey and score)."""
    from edm.webhooks import events
    from edm.webhooks.emit import emit, wanted

    satisfaction = satisfaction_of(survey, score)
    types = [events.SURVEY_ANSWERED] + ([events.DETRACTOR] if satisfaction == "detractor" else [])
    types = [t for t in types if wanted(session, t)]
    if not types:
        return
    customer = session.get(Customer, customer_id)
    assert customer is not None  # checked by `respondent`
    who = (customer.external_id, customer.email)
    made = {events.SURVEY_ANSWERED: lambda: events.answered(who, outbox_id, survey, score, satisfaction, now),
            events.DETRACTOR: lambda: events.detractor(who, outbox_id, survey, score, now)}
    emit(session, [made[t]() for t in types], now)


def _upsert(
    session: Session,
    customer_id: int,
    outbox_id: int,
    survey: Survey,
    score: int,
    comment: str | None,
    now: datetime,
) -> None:
    """Insert the answer, or change the mail's answer when the score or the comment differs.

    One statement, so concurrent clicks on one mail can neither both insert nor lose a change.
    """
    table = SurveyAnswer.__table__
    assert isinstance(table, Table)
    insert = dialect_insert(session)(table).values(
        customer_id=customer_id, outbox_id=outbox_id, survey=survey, score=score, comment=comment,
        answered_at=now, updated_at=now,
    )
    new = insert.excluded
    changed = or_(table.c.score != new.score, (new.comment.is_not(None)
                                               & new.comment.is_distinct_from(table.c.comment)))
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.outbox_id, table.c.survey],
            set_={"score": new.score, "comment": func.coalesce(new.comment, table.c.comment),
                  "updated_at": new.updated_at},
            where=changed,
        )
    )


def _refresh_profile(session: Session, profile: CustomerProfile, now: datetime) -> None:
    """The satisfaction fields from all the customer's answers; a detractor loses 'loyal'."""
    rows = session.execute(
        select(SurveyAnswer.survey, SurveyAnswer.score, SurveyAnswer.updated_at)
        .where(SurveyAnswer.customer_id == profile.customer_id)
        .order_by(SurveyAnswer.updated_at, SurveyAnswer.id)
    )
    now_standing = standing(Answer(row.survey, row.score, row.updated_at) for row in rows)
    profile.satisfaction = now_standing.satisfaction
    profile.satisfaction_trend = now_standing.trend
    profile.nps_score = now_standing.nps
    profile.csat_score = now_standing.csat
    profile.surveyed_at = now_standing.at
    loyalty = capped_loyalty(profile.loyalty, now_standing.satisfaction)
    if loyalty != profile.loyalty:
        session.add(ProfileTransition(customer_id=profile.customer_id, dimension="loyalty",
                                      old=profile.loyalty, new=loyalty, computed_at=now))
        profile.loyalty = loyalty
