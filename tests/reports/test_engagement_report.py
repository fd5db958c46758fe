"""The engagement table against the hand-counted history of tests/reports/history.py, on SQLite
and PostgreSQL. Each expected row is worked out from the history's table, message by message."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.errors import EdmError
from edm.reports import engagement_summary, engagement_table
from edm.reports.engagement import TOO_FEW
from tests.reports.history import MARCH, at, seed

COUNTS = ["sent", "delivered", "deferred", "bounced", "opened", "machine_opened", "clicked",
          "unsubscribed", "complained", "orders"]
COLUMNS = [*COUNTS, "revenue", "open_rate", "click_rate", "unsubscribe_rate", "click_to_open"]


def expected(by: list[str], rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """The hand-counted rows, with what follows from them when nothing is too recent and every campaign
    has links: each rate's n (a rate over nothing is NaN, not 0%) and "too few" for a row of no mail."""
    frame = pd.DataFrame.from_records(rows, columns=[*by, *COLUMNS])
    frame = frame.astype({c: "int64" for c in COUNTS} | {c: "float64" for c in COLUMNS[len(COUNTS):]})
    none = frame["delivered"] == 0
    frame.loc[none, ["open_rate", "click_rate", "unsubscribe_rate"]] = float("nan")
    frame.loc[frame["opened"] == 0, "click_to_open"] = float("nan")
    frame["too_recent"] = 0
    frame["judged"] = frame["judged_linked"] = frame["delivered"]
    frame["opened_linked"] = frame["opened"]
    frame["judgement"] = none.map({True: TOO_FEW, False: ""}).astype(object)
    return frame


def report(sessions: sessionmaker[Session], by: list[str], **window: datetime) -> pd.DataFrame:
    with sessions() as session:
        return engagement_table(session, by, attribution_days=30, **window)


# spring: sent #1 #2 #3 #14 #15; delivered all but #15; deferred #13; bounced #4 #15; people opened
# #1 #3, and #2 by its click (its pixel was a machine's); machines #1 #2; clicked #1 #2; unsubscribed #3;
# orders o1 o3 o7 = 190. Click-to-open 2 / 3.
SPRING = ("spring", 5, 4, 1, 2, 3, 2, 2, 1, 0, 3, 190.0, 0.75, 0.5, 0.25, 0.6667)
# winback: sent and delivered #6 #7 #8 #9; bounced #11; people opened #6 #9, and #8 by its click; machine
# #7; clicked #8 #9; orders o4 (#6) o2 (#7) o6 (#9) = 280.
WINBACK = ("winback", 4, 4, 0, 1, 3, 1, 2, 0, 0, 3, 280.0, 0.75, 0.5, 0.0, 0.6667)
TOTAL = ("Total", 9, 8, 1, 3, 6, 3, 4, 1, 0, 6, 470.0, 0.75, 0.5, 0.125, 0.6667)


def test_by_campaign_counts_each_message_once(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    pd.testing.assert_frame_equal(report(any_sessions, ["campaign"]),
                                  expected(["campaign"], [SPRING, WINBACK, TOTAL]))


def test_by_tier_uses_current_profile_and_unknown(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    pd.testing.assert_frame_equal(report(any_sessions, ["tier"]), expected(["tier"], [
        ("high", 3, 3, 1, 0, 1, 2, 1, 0, 0, 2, 150.0, 0.3333, 0.3333, 0.0, 1.0),  # #1 #7 #14, #13 deferred
        ("medium", 3, 2, 0, 1, 2, 1, 1, 0, 0, 2, 110.0, 1.0, 0.5, 0.0, 0.5),  # #2 #6, #15 bounced late
        ("low", 2, 2, 0, 1, 2, 0, 1, 1, 0, 1, 10.0, 1.0, 0.5, 0.5, 0.5),  # #3 #8, #11 bounced
        ("unknown", 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 200.0, 1.0, 1.0, 0.0, 1.0),  # #9, #4 bounced
        TOTAL,
    ]))


def test_by_industry_in_natural_order(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    pd.testing.assert_frame_equal(report(any_sessions, ["industry"]), expected(["industry"], [
        ("manufacturing", 3, 3, 1, 0, 1, 2, 1, 0, 0, 2, 150.0, 0.3333, 0.3333, 0.0, 1.0),
        ("services", 2, 2, 0, 1, 2, 0, 1, 1, 0, 1, 10.0, 1.0, 0.5, 0.5, 0.5),
        ("trade", 3, 2, 0, 1, 2, 1, 1, 0, 0, 2, 110.0, 1.0, 0.5, 0.0, 0.5),
        ("unknown", 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 200.0, 1.0, 1.0, 0.0, 1.0),
        TOTAL,
    ]))


def test_by_variant_and_by_locale(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    pd.testing.assert_frame_equal(report(any_sessions, ["variant"]), expected(["variant"], [
        ("-", 4, 4, 1, 1, 3, 1, 2, 0, 0, 3, 280.0, 0.75, 0.5, 0.0, 0.6667),  # winback and #13
        ("A", 3, 2, 0, 2, 2, 1, 1, 1, 0, 2, 110.0, 1.0, 0.5, 0.5, 0.5),  # #1 #3 #15, #4 bounced
        ("B", 2, 2, 0, 0, 1, 1, 1, 0, 0, 1, 80.0, 0.5, 0.5, 0.0, 1.0),  # #2 (opened by its click) #14
        TOTAL,
    ]))
    pd.testing.assert_frame_equal(report(any_sessions, ["locale"]), expected(["locale"], [
        ("en", 5, 4, 0, 2, 4, 1, 2, 1, 0, 3, 120.0, 1.0, 0.5, 0.25, 0.5),  # c2 and c3
        ("zh", 4, 4, 1, 1, 2, 2, 2, 0, 0, 3, 350.0, 0.5, 0.5, 0.0, 1.0),  # c1 and c4
        TOTAL,
    ]))


def test_by_campaign_and_stage(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    table = report(any_sessions, ["campaign", "stage"])
    pd.testing.assert_frame_equal(table, expected(["campaign", "stage"], [
        ("spring", "new", 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 10.0, 1.0, 0.0, 1.0, 0.0),  # #3
        ("spring", "mature", 2, 2, 1, 0, 1, 1, 1, 0, 0, 1, 100.0, 0.5, 0.5, 0.0, 1.0),  # #1 #14, #13
        ("spring", "at_risk", 2, 1, 0, 1, 1, 1, 1, 0, 0, 1, 80.0, 1.0, 1.0, 0.0, 1.0),  # #2, #15
        ("spring", "unknown", 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0),  # #4
        ("winback", "new", 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0.0, 1.0, 1.0, 0.0, 1.0),  # #8, #11
        ("winback", "mature", 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 50.0, 0.0, 0.0, 0.0, 0.0),  # #7
        ("winback", "at_risk", 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 30.0, 1.0, 0.0, 0.0, 0.0),  # #6
        ("winback", "unknown", 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 200.0, 1.0, 1.0, 0.0, 1.0),  # #9
        ("Total", "Total", *TOTAL[1:]),
    ]))


def test_window_selects_messages_by_send_time(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    # March: winback keeps #7 and #9 only (o2, o6); o4's last touch #6 was in February
    pd.testing.assert_frame_equal(report(any_sessions, ["campaign"], **MARCH), expected(["campaign"], [
        SPRING,
        ("winback", 2, 2, 0, 0, 1, 1, 1, 0, 0, 2, 250.0, 0.5, 0.5, 0.0, 1.0),
        ("Total", 7, 6, 1, 2, 4, 3, 3, 1, 0, 5, 440.0, 0.6667, 0.5, 0.1667, 0.75),
    ]))


def test_open_ended_windows(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    # from 03-11 12:00: #3 #15 (spring); #7 #8 #9 (winback)
    since = report(any_sessions, ["campaign"], since=at(3, 11))
    pd.testing.assert_frame_equal(since, expected(["campaign"], [
        ("spring", 2, 1, 0, 1, 1, 0, 0, 1, 0, 1, 10.0, 1.0, 0.0, 1.0, 0.0),
        ("winback", 3, 3, 0, 0, 2, 1, 2, 0, 0, 2, 250.0, 0.6667, 0.6667, 0.0, 1.0),
        ("Total", 5, 4, 0, 1, 3, 1, 2, 1, 0, 3, 260.0, 0.75, 0.5, 0.25, 0.6667),
    ]))
    # before March: #6 (o4) and the bounce #11
    until = report(any_sessions, ["campaign"], until=datetime(2024, 3, 1, tzinfo=UTC))
    pd.testing.assert_frame_equal(until, expected(["campaign"], [
        ("winback", 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 30.0, 1.0, 0.0, 0.0, 0.0),
        ("Total", 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 30.0, 1.0, 0.0, 0.0, 0.0),
    ]))


def test_attribution_window_is_configurable(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    with any_sessions() as session:
        short = engagement_table(session, ["campaign"], attribution_days=3)
    # 3 days: o1 (2 days after #1) and o7 (2 days after #3); o6 (1 day after #9); the rest are later
    assert short[["campaign", "orders", "revenue"]].values.tolist() == [
        ["spring", 2, 110.0], ["winback", 1, 200.0], ["Total", 3, 310.0],
    ]


def test_quiet_window_gives_only_a_zero_total(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    table = report(any_sessions, ["campaign", "tier"], since=datetime(2030, 1, 1, tzinfo=UTC))
    pd.testing.assert_frame_equal(table, expected(["campaign", "tier"], [
        ("Total", "Total", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
    ]))


def test_summary_is_the_total_row(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    summary = engagement_summary(report(sessions, ["stage"], **MARCH))
    march = (7, 6, 1, 2, 4, 3, 3, 1, 0, 5, 440.0, 0.6667, 0.5, 0.1667, 0.75)
    assert summary == dict(zip(COLUMNS, march, strict=True))
    assert all(type(summary[name]) is int for name in COUNTS)


@pytest.mark.parametrize("by", [["region"], [], ["campaign", "campaign"], ["tier", "Stage"]])
def test_bad_grouping_names_the_valid_choices(
    sessions: sessionmaker[Session], by: list[str]
) -> None:
    with pytest.raises(EdmError, match="campaign, variant, tier, stage, industry, locale"):
        report(sessions, by)


def test_bad_window_is_a_user_error(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(EdmError, match="time zone"):
        report(sessions, ["campaign"], since=datetime(2024, 3, 1))
    with pytest.raises(EdmError, match="before until"):
        report(sessions, ["campaign"], since=at(3, 2), until=at(3, 1))
