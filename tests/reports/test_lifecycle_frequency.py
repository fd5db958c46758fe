"""Lifecycle moves and contact frequency against small hand-made histories, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from edm.reports.charts import flow_chart, flow_layout
from edm.reports.frequency import change_table, distribution, profile_summary
from edm.reports.lifecycle import flow_matrix, notable_moves, transition_tables
from edm.store import Customer, CustomerProfile, Event, OutboxMessage, ProfileTransition
from tests.reports.history import at

Q1 = {"since": datetime(2024, 1, 1, tzinfo=UTC), "until": datetime(2024, 4, 1, tzinfo=UTC)}


def customers(session: Session, count: int) -> list[int]:
    rows = [Customer(external_id=f"k{i}", name=f"k{i}", email=f"k{i}@example.com", kind="person",
                     created_at=at(1, 1)) for i in range(count)]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def test_lifecycle_counts_moves_in_the_period(any_sessions: sessionmaker[Session]) -> None:
    moves = [  # (customer, dimension, old, new, when)
        (0, "lifecycle_stage", None, "at_risk", at(1, 5)),
        (0, "lifecycle_stage", "at_risk", "growing", at(2, 5)),  # re-engaged
        (1, "lifecycle_stage", "at_risk", "growing", at(3, 5)),
        (2, "lifecycle_stage", "churned", "reacquired", at(3, 6)),  # won back
        (2, "lifecycle_stage", "at_risk", "churned", at(1, 6)),
        (3, "lifecycle_stage", "at_risk", "churned", at(4, 2)),  # after the period
        (3, "lifecycle_stage", "at_risk", "growing", at(2, 1)),
        (3, "loyalty", "at_risk", "general", at(2, 2)),
        (3, "loyalty", "at_risk", "general", at(2, 20)),  # the same move twice: 2 moves, 1 customer
        (1, "scale", "small", "medium", at(2, 2)),  # another dimension: not in this report
    ]
    with any_sessions.begin() as session:
        ids = customers(session, 4)
        session.add_all(ProfileTransition(customer_id=ids[c], dimension=d, old=o, new=n, computed_at=w)
                        for c, d, o, n, w in moves)
    with any_sessions() as session:
        tables = transition_tables(session, **Q1)
    stage, loyalty = tables["lifecycle_stage"], tables["loyalty"]
    assert stage.values.tolist() == [
        ["-", "at_risk", 1, 1],
        ["at_risk", "growing", 3, 3],
        ["at_risk", "churned", 1, 1],
        ["churned", "reacquired", 1, 1],
    ]
    assert loyalty.values.tolist() == [["at_risk", "general", 1, 2]]
    notable = dict(notable_moves(tables))
    assert notable["at risk → growing (re-engaged 重新活跃)"] == 3
    assert notable["churned → reacquired (won back 赢回)"] == 1
    assert notable["at risk → churned (lost 流失)"] == 1
    assert notable["loyalty at risk → general (recovered 恢复)"] == 1
    matrix = flow_matrix(stage, ("prospect", "lead", "new", "growing", "mature", "at_risk", "churned",
                                 "reacquired"))
    assert matrix.index.tolist() == ["-", "at_risk", "churned"]
    assert matrix.columns.tolist() == ["growing", "at_risk", "churned", "reacquired"]
    assert matrix.loc["at_risk", "growing"] == 3 and matrix.loc["churned", "reacquired"] == 1
    assert int(matrix.to_numpy().sum()) == 6
    _check_flow_layout(matrix)


def _check_flow_layout(matrix: pd.DataFrame) -> None:
    """The flow chart's bands carry every move once, sized by it, and never overlap on a side."""
    bands = flow_layout(matrix)
    assert sorted((b.source, b.target, b.count) for b in bands) == sorted(
        (str(r), str(c), float(matrix.loc[r, c])) for r in matrix.index for c in matrix.columns
        if matrix.loc[r, c] > 0)
    unit = (bands[0].left_high - bands[0].left_low) / bands[0].count
    for band in bands:
        assert band.left_high - band.left_low == pytest.approx(unit * band.count)
        assert band.right_high - band.right_low == pytest.approx(unit * band.count)
        assert 0 <= band.left_low < band.left_high <= 1 and 0 <= band.right_low < band.right_high <= 1
    for side in ("left", "right"):
        spans = sorted((getattr(b, f"{side}_low"), getattr(b, f"{side}_high")) for b in bands)
        assert all(high <= next_low + 1e-12 for (_, high), (next_low, _) in itertools.pairwise(spans))
    assert flow_chart(matrix, "moves", "from", "to").startswith(b"\x89PNG")


@given(st.lists(st.lists(st.integers(0, 50), min_size=3, max_size=3), min_size=1, max_size=4))
def test_any_flow_matrix_lays_out_without_overlap(rows: list[list[int]]) -> None:
    matrix = pd.DataFrame(rows, index=[f"r{i}" for i in range(len(rows))], columns=["a", "b", "c"])
    if matrix.to_numpy().sum() == 0:
        assert flow_layout(matrix) == []
        return
    bands = flow_layout(matrix)
    assert sum(b.count for b in bands) == matrix.to_numpy().sum()
    for side in ("left", "right"):
        spans = sorted((getattr(b, f"{side}_low"), getattr(b, f"{side}_high")) for b in bands)
        assert all(high <= next_low + 1e-12 for (_, high), (next_low, _) in itertools.pairwise(spans))
        assert spans[-1][1] <= 1 + 1e-12


def test_frequency_now_and_change(any_sessions: sessionmaker[Session]) -> None:
    # (tier, interval, score, sunset); the fourth customer has no interval or score yet
    profiles = [("high", 20.0, 5.0, False), ("high", 60.0, -2.0, True), ("low", 5.0, 0.5, False),
                ("low", None, None, False)]
    # mails sent to k0 (high) and k2 (low); the gaps are worked out below the report call
    mails = {0: [at(1, 1), at(1, 11), at(1, 31), at(3, 11)], 2: [at(3, 1), at(3, 4), at(3, 11)]}
    with any_sessions.begin() as session:
        ids = customers(session, 4)
        for cid, (tier, interval, score, sunset) in zip(ids, profiles, strict=True):
            session.add(CustomerProfile(customer_id=cid, value_tier=tier, lifecycle_stage="mature",
                                        order_count=1, revenue=Decimal("1.00"), computed_at=at(1, 1),
                                        contact_interval_days=interval, engagement_score=score,
                                        sunset=sunset))
        for index, moments in mails.items():
            for n, moment in enumerate(moments):
                message = OutboxMessage(key=f"f{index}-{n}", campaign="c", customer_id=ids[index],
                                        occurrence=date(2024, 1, 1), to_address="x@example.com", state="sent",
                                        next_attempt_at=moment, created_at=moment, sent_at=moment)
                session.add(message)
                session.flush()
                if (index, n) in ((0, 1), (2, 0), (2, 1)):  # a person opened; (0, 2) only a machine
                    session.add(Event(kind="open", customer_id=ids[index], outbox_id=message.id,
                                      occurred_at=moment))
                if (index, n) == (0, 2):
                    session.add(Event(kind="open", customer_id=ids[index], outbox_id=message.id,
                                      occurred_at=moment, machine=True))
    period = {"since": datetime(2024, 2, 15, tzinfo=UTC), "until": datetime(2024, 3, 31, tzinfo=UTC)}
    with any_sessions() as session:
        summary = profile_summary(session)
        intervals = distribution(session, "interval")
        scores = distribution(session, "score")
        change = change_table(session, **period)
    assert summary.values.tolist()[0] == ["high", 2, 40.0, 20.0, 60.0, 1.5, -2.0, 5.0, 1]
    low = summary.values.tolist()[1]
    assert low[:5] == ["low", 2, 5.0, 5.0, 5.0] and low[5:8] == [0.5, 0.5, 0.5] and low[8] == 0
    assert intervals.columns.tolist() == ["tier", "<7d", "7-14d", "14-21d", "21-30d", "30-45d", "45-60d",
                                          "60-90d", "90+d", "none"]
    assert intervals.values.tolist() == [["high", 0, 0, 1, 0, 0, 0, 1, 0, 0],
                                         ["low", 1, 0, 0, 0, 0, 0, 0, 0, 1]]
    assert scores.values.tolist() == [["high", 1, 0, 0, 1, 0, 0], ["low", 0, 1, 0, 0, 0, 1]]
    # previous period: 2024-01-01 .. 02-15; this one 02-15 .. 03-31 (45 days each)
    # high (k0): previous gaps 01-11 - 01-01 = 10, 01-31 - 01-11 = 20; current 03-11 - 01-31 = 40
    #   delivered previous 01-01, 01-11 (opened), 01-31 (machine only) -> 1/3; current 03-11 -> 0/1
    # low (k2): current gaps 3 and 7; delivered 3, two opened
    assert change.columns.tolist()[0] == "tier"
    high, low_change = change.to_dict("records")
    assert high == {"tier": "high", "gaps_previous": 2, "gap_mean_previous": 15.0, "gaps_current": 1,
                    "gap_mean_current": 40.0, "delivered_previous": 3, "engaged_rate_previous": 0.3333,
                    "delivered_current": 1, "engaged_rate_current": 0.0}
    assert low_change["gaps_previous"] == 0 and math.isnan(low_change["gap_mean_previous"])
    assert (low_change["gaps_current"], low_change["gap_mean_current"]) == (2, 5.0)
    assert low_change["delivered_previous"] == 0 and math.isnan(low_change["engaged_rate_previous"])
    assert (low_change["delivered_current"], low_change["engaged_rate_current"]) == (3, 0.6667)
