"""Engagement: how each customer reacts, and how often we may therefore write."""

from edm.engagement.interval import contact_interval, judged_reaction, may_contact
from edm.engagement.refresh import IntervalSummary, refresh_intervals

__all__ = [
    "IntervalSummary",
    "contact_interval",
    "judged_reaction",
    "may_contact",
    "refresh_intervals",
]
