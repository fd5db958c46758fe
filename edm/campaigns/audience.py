"""Audience rules compiled to SQLAlchemy expressions: YAML never becomes raw SQL."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from edm.campaigns.schema import Audience
from edm.store import CustomerProfile


def audience_filter(audience: Audience) -> ColumnElement[bool]:
    """A WHERE clause over `customer_profiles` selecting the campaign's audience."""
    return and_(
        CustomerProfile.value_tier.in_(audience.tiers),
        CustomerProfile.lifecycle_stage.in_(audience.stages),
    )
