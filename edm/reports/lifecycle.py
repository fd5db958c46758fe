"""How customers moved between lifecycle stages and loyalty classes over a period.

Every class change is a `ProfileTransition` row; SQL counts them per (from, to) in the
period. A customer who moved twice (at_risk -> churned -> reacquired) counts in both
moves. `from` is "-" for a customer's first classification. The notable moves are the
ones nurturing is for: back to activity after re-engagement, reacquired after win-back.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edm.classes import LIFECYCLE_STAGES, LOYALTIES
from edm.reports.engagement import check_window, within
from edm.store import ProfileTransition

DIMENSIONS: dict[str, tuple[str, ...]] = {"lifecycle_stage": LIFECYCLE_STAGES, "loyalty": LOYALTIES}
FIRST = "-"  # no earlier class: the customer's first classification
COLUMNS = ("from", "to", "customers", "moves")
# (dimension, from, to): moves worth a line in the summary, and what they mean
NOTABLE: tuple[tuple[str, str, str, str], ...] = (
    ("lifecycle_stage", "at_risk", "growing", "at risk → growing (re-engaged 重新活跃)"),
    ("lifecycle_stage", "at_risk", "mature", "at risk → mature (re-engaged 重新活跃)"),
    ("lifecycle_stage", "churned", "reacquired", "churned → reacquired (won back 赢回)"),
    ("lifecycle_stage", "at_risk", "churned", "at risk → churned (lost 流失)"),
    ("loyalty", "at_risk", "general", "loyalty at risk → general (recovered 恢复)"),
    ("loyalty", "churned", "general", "loyalty churned → general (won back 赢回)"),
)


def transition_tables(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, pd.DataFrame]:
    """Per dimension: one row per (from, to) that happened, with distinct customers and moves."""
    check_window(since, until)
    return {dimension: _moves(session, dimension, order, since, until)
            for dimension, order in DIMENSIONS.items()}


def notable_moves(tables: dict[str, pd.DataFrame]) -> list[tuple[str, int]]:
    """Pure: the NOTABLE moves with their customer counts (0 when none happened)."""
    found = []
    for dimension, old, new, meaning in NOTABLE:
        table = tables[dimension]
        hit = table[(table["from"] == old) & (table["to"] == new)]
        found.append((meaning, int(hit["customers"].sum())))
    return found


def flow_matrix(table: pd.DataFrame, order: tuple[str, ...]) -> pd.DataFrame:
    """Pure: moves as a from x to matrix in the classes' natural order (for the chart)."""
    sources = [FIRST, *order]
    matrix = table.pivot_table(index="from", columns="to", values="moves", aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(index=sources, columns=list(order), fill_value=0)
    return matrix.loc[matrix.sum(axis=1) > 0, matrix.sum(axis=0) > 0].astype("int64")


def _moves(
    session: Session, dimension: str, order: tuple[str, ...], since: datetime | None, until: datetime | None
) -> pd.DataFrame:
    query = (
        select(
            ProfileTransition.old,
            ProfileTransition.new,
            func.count(func.distinct(ProfileTransition.customer_id)),
            func.count(),
        )
        .where(ProfileTransition.dimension == dimension,
               *within(ProfileTransition.computed_at, since, until))
        .group_by(ProfileTransition.old, ProfileTransition.new)
    )
    rows = [(old or FIRST, new, int(customers), int(moves))
            for old, new, customers, moves in session.execute(query)]
    rank = {name: i for i, name in enumerate((FIRST, *order))}
    rows.sort(key=lambda row: (rank.get(row[0], len(rank)), row[0], rank.get(row[1], len(rank)), row[1]))
    table = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    return table.astype({"from": "object", "to": "object", "customers": "int64", "moves": "int64"})
