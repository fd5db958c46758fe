"""The store: typed models, engine, sessions and dialect-aware upserts."""

from edm.store.engine import create_schema, make_engine, session_factory, upsert
from edm.store.models import (
    SCHEMA_VERSION,
    Base,
    CampaignRecord,
    Customer,
    CustomerProfile,
    Event,
    Order,
    OutboxMessage,
    Suppression,
)

__all__ = [
    "SCHEMA_VERSION",
    "Base",
    "CampaignRecord",
    "Customer",
    "CustomerProfile",
    "Event",
    "Order",
    "OutboxMessage",
    "Suppression",
    "create_schema",
    "make_engine",
    "session_factory",
    "upsert",
]
