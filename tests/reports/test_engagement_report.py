"""The engagement table against a small hand-made history, on SQLite and PostgreSQL.

The history (window W = March 2024; c1 high/mature, c2 medium/at_risk, c3 low/new, c4 no profile):

    #   campaign  customer  state       created/sent  events
    1   spring    c1        sent        03-10         open, click
    2   spring    c2        sent        03-10         click (no open)
    3   spring    c3        sent        03-12         open, unsubscribe
    4   spring    c4        bounced     03-10         an open (ignored: not a sent message)
    5   spring    c2        queued      03-10
    6   winback   c2        sent        02-20         open on 03-02 (message outside W)
    7   winback   c1        sent        03-15         open
    8   winback   c3        sent        04-05         click (message outside W)
    9   winback   c4        sent        03-20         open, open, click
    10  winback   c1        failed      03-15
    11  winback   c3        bounced     02-25
    12  spring    c1        suppressed  03-10
    13  spring    c1        deferred    03-10
    14  spring    c1        sent        03-05
    plus an open by c1 that names no message (ignored).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.errors import EdmError
from edm.reports import engagement_summary, engagement_table
from edm.store import Customer, CustomerProfile, Event, OutboxMessage

COLUMNS = ["sent", "bounced", "opened", "clicked", "unsubscribed", "open_rate", "click_rate"]


def at(month: int, day: int) -> datetime:
    return datetime(2024, month, day, 12, 0, tzinfo=UTC)


MARCH = {"since": datetime(2024, 3, 1, tzinfo=UTC), "until": datetime(2024, 4, 1, tzinfo=UTC)}


def seed(sessions: sessionmaker[Session]) -> None:
    profiles = {"c1": ("high", "mature"), "c2": ("medium", "at_risk"), "c3": ("low", "new")}
    with sessions.begin() as session:
        customers = {
            name: Customer(
                external_id=name, name=name, email=f"{name}@example.com", kind="person",
                created_at=at(1, 1),
            )
            for name in ("c1", "c2", "c3", "c4")
        }
        session.add_all(customers.values())
        session.flush()
        for name, (tier, stage) in profiles.items():
            session.add(
                CustomerProfile(
                    customer_id=customers[name].id, value_tier=tier, lifecycle_stage=stage,
                    order_count=1, revenue=Decimal("100.00"), computed_at=at(1, 2),
                )
            )
        history = [
            # (campaign, customer, state, when, events)
            ("spring", "c1", "sent", at(3, 10), [("open", at(3, 10)), ("click", at(3, 11))]),
            ("spring", "c2", "sent", at(3, 10), [("click", at(3, 11))]),
            ("spring", "c3", "sent", at(3, 12), [("open", at(3, 12)), ("unsubscribe", at(3, 13))]),
            ("spring", "c4", "bounced", at(3, 10), [("open", at(3, 10)), ("bounce", at(3, 10))]),
            ("spring", "c2", "queued", at(3, 10), []),
            ("winback", "c2", "sent", at(2, 20), [("open", at(3, 2))]),
            ("winback", "c1", "sent", at(3, 15), [("open", at(3, 16))]),
            ("winback", "c3", "sent", at(4, 5), [("click", at(4, 6))]),
            ("winback", "c4", "sent", at(3, 20),
             [("open", at(3, 20)), ("open", at(3, 21)), ("click", at(3, 21))]),
            ("winback", "c1", "failed", at(3, 15), []),
            ("winback", "c3", "bounced", at(2, 25), []),
            ("spring", "c1", "suppressed", at(3, 10), []),
            ("spring", "c1", "deferred", at(3, 10), []),
            ("spring", "c1", "sent", at(3, 5), []),
        ]
        for number, (campaign, name, state, when, events) in enumerate(history, start=1):
            customer = customers[name]
            message = OutboxMessage(
                key=f"m{number}", campaign=campaign, customer_id=customer.id,
                occurrence=date(2024, 1, 1), to_address=customer.email, state=state,
                next_attempt_at=when, created_at=when if state != "sent" else at(1, 1),
                sent_at=when if state == "sent" else None,
            )
            session.add(message)
            session.flush()
            for kind, occurred_at in events:
                session.add(
                    Event(kind=kind, customer_id=customer.id, outbox_id=message.id,
                          occurred_at=occurred_at)
                )
        session.add(Event(kind="open", customer_id=customers["c1"].id, outbox_id=None,
                          occurred_at=at(3, 10)))


def expected(by: list[str], rows: list[tuple[object, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=[*by, *COLUMNS])
    return frame.astype({c: "int64" for c in COLUMNS[:5]} | {c: "float64" for c in COLUMNS[5:]})


def report(sessions: sessionmaker[Session], by: list[str], **window: datetime) -> pd.DataFrame:
    with sessions() as session:
        return engagement_table(session, by, **window)


def test_by_campaign_counts_each_message_once(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    table = report(any_sessions, ["campaign"])
    pd.testing.assert_frame_equal(table, expected(["campaign"], [
        ("spring", 4, 1, 2, 2, 1, 0.5, 0.5),
        ("winback", 4, 1, 3, 2, 0, 0.75, 0.5),
        ("Total", 8, 2, 5, 4, 1, 0.625, 0.5),
    ]))


def test_by_tier_uses_current_profile_and_unknown(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    table = report(any_sessions, ["tier"])
    pd.testing.assert_frame_equal(table, expected(["tier"], [
        ("high", 3, 0, 2, 1, 0, 0.6667, 0.3333),
        ("medium", 2, 0, 1, 1, 0, 0.5, 0.5),
        ("low", 2, 1, 1, 1, 1, 0.5, 0.5),
        ("unknown", 1, 1, 1, 1, 0, 1.0, 1.0),
        ("Total", 8, 2, 5, 4, 1, 0.625, 0.5),
    ]))


def test_by_campaign_and_stage(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    table = report(any_sessions, ["campaign", "stage"])
    pd.testing.assert_frame_equal(table, expected(["campaign", "stage"], [
        ("spring", "new", 1, 0, 1, 0, 1, 1.0, 0.0),
        ("spring", "mature", 2, 0, 1, 1, 0, 0.5, 0.5),
        ("spring", "at_risk", 1, 0, 0, 1, 0, 0.0, 1.0),
        ("spring", "unknown", 0, 1, 0, 0, 0, 0.0, 0.0),
        ("winback", "new", 1, 1, 0, 1, 0, 0.0, 1.0),
        ("winback", "mature", 1, 0, 1, 0, 0, 1.0, 0.0),
        ("winback", "at_risk", 1, 0, 1, 0, 0, 1.0, 0.0),
        ("winback", "unknown", 1, 0, 1, 1, 0, 1.0, 1.0),
        ("Total", "Total", 8, 2, 5, 4, 1, 0.625, 0.5),
    ]))


def test_window_selects_messages_by_send_time(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    by_campaign = report(any_sessions, ["campaign"], **MARCH)
    pd.testing.assert_frame_equal(by_campaign, expected(["campaign"], [
        ("spring", 4, 1, 2, 2, 1, 0.5, 0.5),
        ("winback", 2, 0, 2, 1, 0, 1.0, 0.5),
        ("Total", 6, 1, 4, 3, 1, 0.6667, 0.5),
    ]))
    pd.testing.assert_frame_equal(report(any_sessions, ["tier"], **MARCH), expected(["tier"], [
        ("high", 3, 0, 2, 1, 0, 0.6667, 0.3333),
        ("medium", 1, 0, 0, 1, 0, 0.0, 1.0),
        ("low", 1, 0, 1, 0, 1, 1.0, 0.0),
        ("unknown", 1, 1, 1, 1, 0, 1.0, 1.0),
        ("Total", 6, 1, 4, 3, 1, 0.6667, 0.5),
    ]))


def test_open_ended_windows(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    since = report(any_sessions, ["campaign"], since=at(3, 11))
    pd.testing.assert_frame_equal(since, expected(["campaign"], [
        ("spring", 1, 0, 1, 0, 1, 1.0, 0.0),
        ("winback", 3, 0, 2, 2, 0, 0.6667, 0.6667),
        ("Total", 4, 0, 3, 2, 1, 0.75, 0.5),
    ]))
    until = report(any_sessions, ["campaign"], until=datetime(2024, 3, 1, tzinfo=UTC))
    pd.testing.assert_frame_equal(until, expected(["campaign"], [
        ("winback", 1, 1, 1, 0, 0, 1.0, 0.0),
        ("Total", 1, 1, 1, 0, 0, 1.0, 0.0),
    ]))


def test_quiet_window_gives_only_a_zero_total(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    table = report(any_sessions, ["campaign", "tier"], since=datetime(2030, 1, 1, tzinfo=UTC))
    pd.testing.assert_frame_equal(table, expected(["campaign", "tier"], [
        ("Total", "Total", 0, 0, 0, 0, 0, 0.0, 0.0),
    ]))


def test_summary_is_the_total_row(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    summary = engagement_summary(report(sessions, ["stage"], **MARCH))
    assert summary == {
        "sent": 6, "bounced": 1, "opened": 4, "clicked": 3, "unsubscribed": 1,
        "open_rate": 0.6667, "click_rate": 0.5,
    }
    assert all(type(summary[name]) is int for name in COLUMNS[:5])


@pytest.mark.parametrize("by", [["region"], [], ["campaign", "campaign"], ["tier", "Stage"]])
def test_bad_grouping_names_the_valid_choices(
    sessions: sessionmaker[Session], by: list[str]
) -> None:
    with pytest.raises(EdmError, match="campaign, tier, stage"):
        report(sessions, by)


def test_bad_window_is_a_user_error(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(EdmError, match="time zone"):
        report(sessions, ["campaign"], since=datetime(2024, 3, 1))
    with pytest.raises(EdmError, match="before until"):
        report(sessions, ["campaign"], since=at(3, 2), until=at(3, 1))
