"""Engagement: how each customer reacts, and how often we may therefore write."""

from edm.engagement.interval import contact_interval, in_sunset, judged_reaction, may_contact
from edm.engagement.refresh import EngagementSummary, refresh_engagement
from edm.engagement.score import best_send_hour, engagement_score

__all__ = [
    "EngagementSummary",
    "best_send_hour",
    "contact_interval",
    "engagement_score",
    "in_sunset",
    "judged_reaction",
    "may_contact",
    "refresh_engagement",
]
