"""A/B test decisions for the engagement report: what each test decided and on which figures.

Read from `ab_decisions` (edm.campaigns.ab), which keeps the counts the decision saw, so the
report shows the decision as it was made, not a re-count with clicks that came later.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from edm.reports.engagement import within
from edm.store import AbDecision

AB_NOTE = (
    "Each test (pick_winner) as decided: its variants' delivered test mail and conversions (a person's "
    "click, or an order after the mail) up to the decision. p-value: two-sided two-proportion z-test, "
    "Fisher's exact test when a cell expects under 5; Holm-adjusted with three or more variants; per "
    "variant, against the leader. Not significant: the rest got the default variant. Decisions count in "
    "the period by when they were made. 未达显著时其余客户收到默认版本。"
)
DECISION_COLUMNS = ["campaign", "occurrence", "decided_at", "metric", "test", "confidence", "winner",
                    "significant", "p_value", "decision", "released"]
ARM_COLUMNS = ["campaign", "occurrence", "variant", "sent", "converted", "conversion_rate", "p_value",
               "outcome"]


def decision_text(winner: str, significant: bool, p_value: float, confidence: float) -> str:
    """The decision in words: "b wins (p = 0.0001 < 0.05)", or
    "no significant difference; default a (p = 0.4)"."""
    if significant:
        return f"{winner} wins (p = {p_value:.2g} < {1 - confidence:.2g})"
    return f"no significant difference; default {winner} (p = {p_value:.2g})"


def ab_tables(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The decisions made in the period (one row each) and their arms (one row per variant)."""
    query = (select(AbDecision).where(*within(AbDecision.decided_at, since, until))
             .order_by(AbDecision.decided_at, AbDecision.campaign))
    decisions: list[dict[str, Any]] = []
    arms: list[dict[str, Any]] = []
    for row in session.scalars(query):
        decisions.append({
            "campaign": row.campaign, "occurrence": row.occurrence.isoformat(),
            "decided_at": f"{row.decided_at:%Y-%m-%d %H:%M}", "metric": row.metric, "test": row.test,
            "confidence": row.confidence, "winner": row.winner,
            "significant": "yes 是" if row.significant else "no 否", "p_value": row.p_value,
            "decision": decision_text(row.winner, row.significant, row.p_value, row.confidence),
            "released": row.released,
        })
        arms.extend(_arm_rows(row))
    return (pd.DataFrame(decisions, columns=DECISION_COLUMNS), pd.DataFrame(arms, columns=ARM_COLUMNS))


def _arm_rows(row: AbDecision) -> list[dict[str, Any]]:
    figures = row.arms
    against = {c["other"]: float(c["adjusted"]) for c in figures.get("comparisons", [])}
    leader = figures.get("leader")
    found = []
    for arm in figures.get("arms", []):
        sent, converted = int(arm["sent"]), int(arm["converted"])
        if arm["name"] == row.winner:
            outcome = "winner 胜出" if row.significant else "default 默认"
        elif arm["name"] == leader:
            outcome = "leader, not significant 领先但不显著"
        else:
            outcome = ""
        found.append({
            "campaign": row.campaign, "occurrence": row.occurrence.isoformat(), "variant": arm["name"],
            "sent": sent, "converted": converted,
            "conversion_rate": converted / sent if sent else math.nan,
            "p_value": against.get(arm["name"], math.nan), "outcome": outcome,
        })
    return found
