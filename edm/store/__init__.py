"""The store: typed models, engine, sessions and dialect-aware upserts."""

from edm.store.engine import create_schema, make_engine, session_factory, upsert
from edm.store.models import (
    SCHEMA_VERSION,
    Base,
    CampaignRecord,
    ClassificationRun,
    Contact,
    Customer,
    CustomerProfile,
    Event,
    ManagerDigest,
    Order,
    OutboxMessage,
    ProfileTransition,
    SendingPause,
    Suppression,
    SurveyAnswer,
    WalletEstimate,
)

__all__ = [
    "SCHEMA_VERSION",
    "Base",
    "CampaignRecord",
    "ClassificationRun",
    "Contact",
    "Customer",
    "CustomerProfile",
    "Event",
    "ManagerDigest",
    "Order",
    "OutboxMessage",
    "ProfileTransition",
    "SendingPause",
    "Suppression",
    "SurveyAnswer",
    "WalletEstimate",
    "create_schema",
    "make_engine",
    "session_factory",
    "upsert",
]
