"""How satisfied customers are: NPS and CSAT per value tier, industry and account manager, over time.

Two SQL queries, each one pass over `survey_answers` joined to the customer and their
profile: one row per answer in the window (its time, survey, score and groups), and the
answers with a comment. pandas then puts the answers into periods and groups and counts
them; nothing loops over customers in Python.

What each figure means (the classes are edm.surveys.scores', so a detractor here is the
detractor the planner and the audience rules see):
- An answer belongs to the period of its first click (`answered_at`); one mail has one
  answer per survey, and a customer who re-clicked counts once, with the latest score.
- promoters / passives / detractors: NPS 9-10 / 7-8 / 0-6; CSAT 4-5 / 3 / 1-2.
- nps: % promoters - % detractors (-100..100); csat: % of answers that are 4 or 5.
- Tier and industry are each customer's current profile, the manager the current customer
  record (no history is kept): "(unclassified)" without a profile, "(none)" without a manager.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import SQLCoreOperations

from edm.classes import INDUSTRIES, VALUE_TIERS
from edm.errors import EdmError
from edm.reports.engagement import check_window, checked_choices, within
from edm.store import Customer, CustomerProfile, SurveyAnswer
from edm.surveys.scores import SATISFACTIONS, SCALES, SURVEYS, Survey, satisfaction_of

GROUPINGS = ("tier", "industry", "manager")
PERIODS = ("month", "week", "quarter")
ALL = "All customers"
NO_MANAGER = "(none)"
UNCLASSIFIED = "(unclassified)"
COUNTS = ("answers", "promoters", "passives", "detractors")
COMMENT_COLUMNS = ("date", "customer", "manager", "survey", "score", "comment")
ANSWER_COLUMNS = ("answered_at", "survey", "score", *GROUPINGS)
_CLASS_COLUMNS = dict(zip(SATISFACTIONS, COUNTS[1:], strict=True))  # promoter -> promoters, ...
_NATURAL_ORDER: dict[str, tuple[str, ...]] = {"tier": VALUE_TIERS, "industry": INDUSTRIES}


def checked_groupings(by: Sequence[str]) -> list[str]:
    """The groupings as a list; an unknown, repeated or missing one is the user's error."""
    return checked_choices(by, GROUPINGS, "satisfaction report")


def checked_period(period: str) -> str:
    if period not in PERIODS:
        raise EdmError(f"no satisfaction report per {period!r}; choose from: {', '.join(PERIODS)}")
    return period


def answer_frame(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """One row per answer first given in [since, until): ANSWER_COLUMNS, groups already labelled."""
    check_window(since, until)
    query = (
        select(SurveyAnswer.answered_at, SurveyAnswer.survey, SurveyAnswer.score,
               CustomerProfile.value_tier, CustomerProfile.industry, _manager(Customer.account_manager))
        .select_from(SurveyAnswer)
        .join(Customer, Customer.id == SurveyAnswer.customer_id)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == SurveyAnswer.customer_id)
        .where(SurveyAnswer.survey.in_(SURVEYS), *within(SurveyAnswer.answered_at, since, until))
    )
    frame = pd.DataFrame.from_records(session.execute(query).all(), columns=list(ANSWER_COLUMNS))
    frame["answered_at"] = pd.to_datetime(frame["answered_at"], utc=True)
    frame["score"] = frame["score"].astype("int64")
    frame[["tier", "industry"]] = frame[["tier", "industry"]].fillna(UNCLASSIFIED).astype(object)
    return frame


def comment_table(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """The answers first given in [since, until) that carry a comment, oldest first (COMMENT_COLUMNS)."""
    check_window(since, until)
    query = (
        select(SurveyAnswer.answered_at, Customer.name, _manager(Customer.account_manager),
               SurveyAnswer.survey, SurveyAnswer.score, SurveyAnswer.comment)
        .join(Customer, Customer.id == SurveyAnswer.customer_id)
        .where(SurveyAnswer.comment.is_not(None), SurveyAnswer.comment != "",
               *within(SurveyAnswer.answered_at, since, until))
        .order_by(SurveyAnswer.answered_at, SurveyAnswer.id)
    )
    rows = [(f"{at:%Y-%m-%d}", *rest) for at, *rest in session.execute(query)]
    table = pd.DataFrame.from_records(rows, columns=list(COMMENT_COLUMNS))
    return table.astype({"score": "int64"})


def period_labels(moments: pd.Series, period: str) -> pd.Series:
    """Pure: each UTC moment's period as text that sorts in time: '2024-03', '2024-W10', '2024-Q1'."""
    checked_period(period)
    if moments.empty:
        return pd.Series([], index=moments.index, dtype=object)
    naive = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    labels: pd.Series
    if period == "month":
        labels = naive.dt.strftime("%Y-%m")
    elif period == "quarter":
        labels = naive.dt.year.astype(str) + "-Q" + naive.dt.quarter.astype(str)
    else:  # ISO weeks start on Monday; week 1 holds the year's first Thursday
        iso = naive.dt.isocalendar()
        labels = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    return labels.astype(object)


def score_of(survey: Survey, answers: Any, promoters: Any, detractors: Any) -> Any:
    """Pure, on numbers or whole columns: NPS (% promoters - % detractors) or CSAT (% promoters)."""
    if survey == "nps":
        return 100.0 * (promoters - detractors) / answers
    return 100.0 * promoters / answers


def satisfaction_table(answers: pd.DataFrame, survey: Survey, by: str, period: str) -> pd.DataFrame:
    """Pure: per period, one row per group with answers in it, then the ALL row of that period.

    Answers off the survey's scale (the tracking server refuses them) are left out.

    Columns: period, `by`, answers, promoters, passives, detractors, `survey` (the score), mean_score.
    """
    checked_groupings([by])
    rows = answers[answers["survey"] == survey]
    classes = rows["score"].map(_classes(survey))
    rows, classes = rows[classes.notna()], classes[classes.notna()]
    counted = pd.DataFrame({
        "period": period_labels(rows["answered_at"], period),
        by: rows[by],
        "score": rows["score"],
        **{column: (classes == name).astype("int64") for name, column in _CLASS_COLUMNS.items()},
    })
    groups = _count(counted, ["period", by])
    totals = _count(counted, ["period"]).assign(**{by: ALL})
    table = pd.concat([groups, totals], ignore_index=True) if len(groups) else totals
    rank = table[by].map(lambda value: group_rank(by, str(value)))
    table = table.assign(_rank=rank).sort_values(["period", "_rank"], kind="stable").drop(columns="_rank")
    table[survey] = score_of(survey, table["answers"], table["promoters"], table["detractors"]).round(1)
    table["mean_score"] = (table.pop("score_sum") / table["answers"]).round(2)
    columns = ["period", by, *COUNTS, survey, "mean_score"]
    return table[columns].reset_index(drop=True).astype(
        {**dict.fromkeys(COUNTS, "int64"), survey: "float64", "mean_score": "float64",
         "period": object, by: object})


def overall(answers: pd.DataFrame, survey: Survey) -> tuple[int, float]:
    """Pure: how many answers to `survey` there are and their score over the whole window (NaN: none)."""
    classes = answers.loc[answers["survey"] == survey, "score"].map(_classes(survey)).dropna()
    if classes.empty:
        return 0, float("nan")
    promoters, detractors = int((classes == "promoter").sum()), int((classes == "detractor").sum())
    return len(classes), round(float(score_of(survey, len(classes), promoters, detractors)), 1)


def _count(counted: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = counted.groupby(keys, sort=False)
    sums = grouped[[*COUNTS[1:], "score"]].sum().rename(columns={"score": "score_sum"})
    return sums.assign(answers=grouped.size()).reset_index()


def _classes(survey: Survey) -> dict[int, str]:
    """Each possible score's class, from edm.surveys.scores (a score off the scale is not a key)."""
    return {score: satisfaction_of(survey, score) for score in SCALES[survey]}


def _manager(column: SQLCoreOperations[str | None]) -> Any:
    """The manager's name, NO_MANAGER for none or a blank one (computed in SQL, the same on both)."""
    return func.coalesce(func.nullif(func.trim(column), ""), NO_MANAGER)


def group_rank(by: str, value: str) -> tuple[int, str]:
    """Pure: sort key of a group: tiers and industries in their natural order, managers by name,
    then (none) / (unclassified), then ALL."""
    order = _NATURAL_ORDER.get(by, ())
    if value in order:
        return order.index(value), ""
    if value == ALL:
        return len(order) + 2, ""
    return (len(order) + 1 if value in (NO_MANAGER, UNCLASSIFIED) else len(order)), value
