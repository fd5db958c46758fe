"""The adaptive contact interval, as pure functions.

Each customer starts from their tier's base gap between marketing mails. Every
mail they reacted to (opened or clicked) shortens the gap; every mail they let
pass lengthens it, within bounds. So engaged customers hear from us sooner and
silent ones are not harassed ("communication at the right frequency").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from edm.config import EngagementSettings


def contact_interval(base_days: float, reactions: Iterable[bool], rules: EngagementSettings) -> float:
    """The gap in days after a history of mails, oldest first (True = the customer reacted)."""
    interval = _clamp(base_days, rules)
    for engaged in reactions:
        interval = _clamp(interval * (rules.engaged_factor if engaged else rules.ignored_factor), rules)
    return round(interval, 2)


def judged_reaction(
    sent_at: datetime, engaged: bool, now: datetime, rules: EngagementSettings
) -> bool | None:
    """True/False once a mail can be judged; None while it is too fresh to call it ignored."""
    if engaged:
        return True
    if now - sent_at >= timedelta(days=rules.response_window_days):
        return False
    return None


def may_contact(last_contact: datetime | None, interval_days: float, now: datetime) -> bool:
    """Whether enough time has passed since the last marketing mail."""
    return last_contact is None or now - last_contact >= timedelta(days=interval_days)


def _clamp(value: float, rules: EngagementSettings) -> float:
    return min(rules.max_interval_days, max(rules.min_interval_days, value))
