"""The schema: typed SQLAlchemy 2 models that run unchanged on SQLite and PostgreSQL.

Models hold data only: no I/O, no application globals. Times are UTC-aware,
money is `Decimal`, events are append-only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from edm.addresses import KEY_LENGTH, canonical_address

SCHEMA_VERSION = 18

BigId = BigInteger().with_variant(Integer, "sqlite")
# JSONB on PostgreSQL: it has equality, so upserts can skip unchanged rows
Attributes = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and hands them back aware, on every dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        date: Date,
        Decimal: Numeric(14, 2),
        dict[str, Any]: JSON,
    }


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    # canonical_address(email): who else shares the mailbox, and the suppression list's key
    email_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True, default=lambda c: _key_of(c))
    kind: Mapped[str] = mapped_column(String(16))  # "company" or "person"
    contact_name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # ISO 3166 alpha-2 (upper case): imported, or derived from the locale or time zone; None unknown
    country: Mapped[str | None] = mapped_column(String(2))
    industry: Mapped[str | None] = mapped_column(String(32))
    birthday: Mapped[date | None]
    founded_on: Mapped[date | None]
    tags: Mapped[str | None] = mapped_column(Text)  # lower-case, sorted, ", "-separated (edm.customers.tags)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(Attributes)  # custom fields: text or number
    account_manager: Mapped[str | None] = mapped_column(String(200))
    account_manager_email: Mapped[str | None] = mapped_column(String(320))
    # what the customer asked for on the preference page: no marketing mail until then,
    # and "less" to stretch their contact interval (edm.engagement)
    paused_until: Mapped[datetime | None]
    frequency_preference: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    # topics turned off on the preference page (lower-case, sorted, ", "-separated; None: all on),
    # and whether mail may be personalised (PIPL Art. 24: False gets each template's generic version)
    topics_off: Mapped[str | None] = mapped_column(Text)
    personalised: Mapped[bool] = mapped_column(server_default=true())  # server-side: bulk writers omit it

    @validates("email")
    def _keep_key(self, _name: str, email: str) -> str:
        """Whoever sets the address (ORM paths) sets its key too; bulk writers give both."""
        self.email_key = canonical_address(email)
        return email


def _key_of(context: DefaultExecutionContext) -> str:
    """The key of a Core insert that named only the address."""
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return canonical_address(str(parameters["email"]))


def manager_key() -> ColumnElement[str]:
    """A customer's account manager as managers are matched: the address trimmed and lower-cased.
    Indexed (ix_customers_manager_key), so queries must use this very expression."""
    return func.lower(func.trim(Customer.account_manager_email))


Index("ix_customers_manager_key", manager_key())


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    ordered_at: Mapped[datetime]
    amount: Mapped[Decimal]
    margin: Mapped[Decimal | None]  # amount minus cost, where the cost is known
    product_line: Mapped[str | None] = mapped_column(String(64))


class WalletEstimate(Base):
    """Our estimated share of what the customer spends in the category (key-account stage).

    Either the share itself, or the customer's annual category spend, from which the
    share is our sales over the last 365 days divided by that spend.
    """

    __tablename__ = "wallet_estimates"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    share: Mapped[float | None]
    category_spend: Mapped[Decimal | None]
    estimated_on: Mapped[date]


class Contact(Base):
    """A person at a customer company: who receives mail, and whose birthday to remember."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("customer_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    birthday: Mapped[date | None]


class CustomerProfile(Base):
    """What classification and engagement concluded about a customer; always recomputable."""

    __tablename__ = "customer_profiles"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    # the nine classes (edm.classes.DIMENSIONS); the defaults are what a customer without orders gets
    scale: Mapped[str] = mapped_column(String(16), default="small")
    value_tier: Mapped[str] = mapped_column(String(16), index=True)
    industry: Mapped[str] = mapped_column(String(16), default="other")
    purchase_frequency: Mapped[str] = mapped_column(String(16), default="none")
    loyalty: Mapped[str] = mapped_column(String(16), default="general")
    lifecycle_stage: Mapped[str] = mapped_column(String(16), index=True)
    relationship_stage: Mapped[str] = mapped_column(String(16), default="gestation")
    churn_kind: Mapped[str] = mapped_column(String(16), default="none")
    profit_profile: Mapped[str] = mapped_column(String(16), default="not_key")
    # the figures they were decided on, kept so every class can be explained later
    order_count: Mapped[int]
    order_days: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[Decimal]
    annual_revenue: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    margin: Mapped[Decimal | None]
    margin_rate: Mapped[float | None]
    orders_per_year: Mapped[float] = mapped_column(default=0.0)
    recent_orders_per_year: Mapped[float] = mapped_column(default=0.0)
    usual_orders_per_year: Mapped[float | None]
    longest_gap_days: Mapped[float | None]
    mean_gap_days: Mapped[float | None]
    gap_variation: Mapped[float | None]
    share_of_wallet: Mapped[float | None]
    dropped_lines: Mapped[str | None] = mapped_column(Text)  # product lines, comma-separated
    probability_alive: Mapped[float | None]
    # the customer's own rhythm (edm.customers.rhythm) and what the models expect of them
    expected_interval_days: Mapped[float | None]  # their usual days between orders, shrunk toward peers'
    next_order_expected_at: Mapped[datetime | None]  # the last order plus that interval
    expected_orders_90d: Mapped[float | None]  # MBG/NBD conditional expectations
    expected_orders_365d: Mapped[float | None]
    predicted_value: Mapped[Decimal | None]  # expected spend over the value horizon (Gamma-Gamma)
    returned_at: Mapped[datetime | None]  # the first order after their last lapse (reacquired)
    orders_since_return: Mapped[int | None]
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None] = mapped_column(index=True)  # sunset's clock (engagement)
    last_engaged_at: Mapped[datetime | None]
    computed_at: Mapped[datetime]
    # how the customer engages (edm.engagement), refreshed before every campaign run
    contact_interval_days: Mapped[float | None]
    # None: to be recomputed by the next refresh, incremental or not (new, or asked for less mail)
    interval_updated_at: Mapped[datetime | None] = mapped_column(index=True)
    engagement_score: Mapped[float | None]
    # long silence: only `reaches_sunset` campaigns (a server default: bulk profile writes leave it out)
    sunset: Mapped[bool] = mapped_column(server_default=false())
    best_hour: Mapped[int | None]  # local hour to send at: just before they usually read
    # what their survey answers say (edm.surveys), updated at every answer
    satisfaction: Mapped[str | None] = mapped_column(String(16))  # promoter, passive or detractor (latest)
    satisfaction_trend: Mapped[str | None] = mapped_column(String(16))  # improving, steady or declining
    nps_score: Mapped[int | None]  # the latest NPS answer, 0..10
    csat_score: Mapped[int | None]  # the latest CSAT answer, 1..5
    surveyed_at: Mapped[datetime | None]  # the latest answer


class ProfileTransition(Base):
    """A customer moved from one class to another in a dimension (old is None the first time).

    Append-only; campaigns trigger on them ("entered at_risk", "became churned").
    """

    __tablename__ = "profile_transitions"
    __table_args__ = (
        Index("ix_transitions_entered", "dimension", "new", "computed_at"),
        Index("ix_transitions_customer", "customer_id", "computed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    dimension: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column(String(16))
    new: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime]


class EngagementRefresh(Base):
    """One engagement refresh (edm.engagement.refresh): what it had read, so the next one can
    recompute only the customers with something new since, and the population figures a full
    refresh counted, which the incremental ones in between reuse. A full refresh deletes the rows
    before it."""

    __tablename__ = "engagement_refreshes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    refreshed_at: Mapped[datetime] = mapped_column(index=True)  # the clock's now it judged by
    full: Mapped[bool]
    settings_digest: Mapped[str] = mapped_column(String(64))  # of the engagement settings it used
    last_event_id: Mapped[int | None] = mapped_column(BigInteger)  # the newest event and order it read
    last_order_id: Mapped[int | None] = mapped_column(BigInteger)
    last_run_id: Mapped[int | None] = mapped_column(BigInteger)  # the newest ClassificationRun
    population_hours: Mapped[list[float]] = mapped_column(JSON)  # everyone's reads by local hour
    click_to_open: Mapped[float | None]
    recomputed: Mapped[int]
    written: Mapped[int]
    # every profile's figures after it (kept up by the incremental ones: old values out, new in)
    customers: Mapped[int]
    shortened: Mapped[int]
    lengthened: Mapped[int]
    sunset: Mapped[int]


class ClassificationRun(Base):
    """One recompute: when, the thresholds as resolved to figures, the churn model's parameters."""

    __tablename__ = "classification_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    computed_at: Mapped[datetime] = mapped_column(index=True)
    customers: Mapped[int]
    moved: Mapped[int]
    thresholds: Mapped[dict[str, Any]]
    churn_model: Mapped[dict[str, Any] | None]
    inputs: Mapped[str | None] = mapped_column(String(200))  # what it read (edm.customers.profiles._inputs)
    counts: Mapped[dict[str, Any] | None]  # customers per class, per dimension


class ClassificationInputs(Base):
    """One row counting the changes to what classification reads that new ids do not show (updates,
    deletions), kept by SQLite triggers: edm.store.changes."""

    __tablename__ = "classification_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)
    # edits and deletions of orders alone: what tells whether the orders' snapshot still holds
    order_changes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class OrderSnapshot(Base):
    """Classification's copy of the orders as columns (edm.store.snapshot), on SQLite: every order up to
    id `through`, as they were while `classification_inputs.order_changes` was `order_changes`. One row,
    or none; its columns in `order_snapshot_parts`."""

    __tablename__ = "order_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    through: Mapped[int] = mapped_column(BigInteger)
    order_changes: Mapped[int] = mapped_column(BigInteger)
    orders: Mapped[int] = mapped_column(BigInteger)
    line_names: Mapped[list[str]] = mapped_column(JSON)  # what the `line` column's codes index, sorted


class OrderSnapshotPart(Base):
    """One stretch of one column of the snapshot: its values' bytes, little-endian (a blob a column
    would outgrow SQLite's one-gigabyte limit at thirty million orders)."""

    __tablename__ = "order_snapshot_parts"

    column: Mapped[str] = mapped_column(String(16), primary_key=True)
    part: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CampaignRecord(Base):
    """The last loaded definition of each campaign, kept for reports and audits."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(500))
    definition: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class ApiKey(Base):
    """A key for the HTTP API: only a hash is kept (the key is shown once), with its scopes."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # the key's public start, to find it
    key_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(JSON)  # e.g. ["events:write", "customers:read"]
    rate_per_minute: Mapped[int | None]  # None: the api settings' default
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiAudit(Base):
    """One write through the API: who, what, when, and how it ended. Append-only."""

    __tablename__ = "api_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int]
    summary: Mapped[dict[str, Any] | None]
    occurred_at: Mapped[datetime] = mapped_column(index=True)


class CustomerEvent(Base):
    """Something the company's systems told us a customer did (quote_requested, contract_signed ...).

    Idempotent by `idempotency_key` (the caller's Idempotency-Key header or event id)."""

    __tablename__ = "customer_events"
    __table_args__ = (
        Index("ix_customer_events_name_time", "name", "occurred_at"),
        Index("ix_customer_events_customer_time", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    name: Mapped[str] = mapped_column(String(64))
    properties: Mapped[dict[str, Any] | None]
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    source: Mapped[str | None] = mapped_column(String(32))  # "api", "import", ...


class WebhookDelivery(Base):
    """One event owed to one webhook endpoint: pending until its endpoint answers 2xx, retried
    with backoff, `dead` after the last try. Unique per (endpoint, event id): never owed twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint", "event_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(100))  # the webhooks: entry's name
    event_type: Mapped[str] = mapped_column(String(64))  # stage.changed, customer.unsubscribed, ...
    event_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))  # pending, sent, dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AbDecision(Base):
    """An A/B test's decision (edm.campaigns.ab): the variant the rest of one occurrence got, and why.

    Written once per (campaign, occurrence); `arms` holds each variant's delivered test
    messages and conversions as decided, so the report shows the figures the decision saw.
    """

    __tablename__ = "ab_decisions"
    __table_args__ = (UniqueConstraint("campaign", "occurrence"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(100))
    occurrence: Mapped[date]
    decided_at: Mapped[datetime] = mapped_column(index=True)
    metric: Mapped[str] = mapped_column(String(16))  # click_rate | order_rate
    test: Mapped[str] = mapped_column(String(32))  # z-test, Fisher exact, or both
    confidence: Mapped[float]
    winner: Mapped[str] = mapped_column(String(32))  # the variant the rest got
    significant: Mapped[bool]
    p_value: Mapped[float]
    arms: Mapped[dict[str, Any]]  # {"arms": [{name, sent, converted}], "comparisons": [...]}
    released: Mapped[int] = mapped_column(default=0)  # waiting messages given the winner


class OutboxMessage(Base):
    """One planned mail. `key` is deterministic (edm.campaigns.keys), so planning twice never queues twice."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        # a customer's mail in time order (reports attribute orders to the mail before them), with
        # what the planner reads of each (its last contact, another campaign's mail that day) in the
        # index itself: a million customers' mail is read without a table lookup a row
        Index("ix_outbox_contact", "customer_id", "sent_at", "state", "created_at", "next_attempt_at",
              "campaign", "occurrence"),
        # a campaign's latest occurrence and its rows by state (the console's campaign list)
        Index("ix_outbox_campaign_occurrence", "campaign", "occurrence", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    campaign: Mapped[str] = mapped_column(String(100))  # first in ix_outbox_campaign_occurrence
    step: Mapped[int] = mapped_column(default=0)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))  # first in ix_outbox_contact
    occurrence: Mapped[date]
    to_address: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16))  # queued ... sent, bounced; held_out: control group
    variant: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_reply: Mapped[str | None] = mapped_column(Text)
    relay: Mapped[str | None] = mapped_column(String(255))  # host:port that gave the last reply
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)  # the console's today and yesterday


class OutboxKeying(Base):
    """How planned mail is keyed (edm.campaigns.keys): the occurrences up to `hashed_through` keep the
    plain hash keys an edm from before migration 0017 gave them. One row, or none on a store made since."""

    __tablename__ = "outbox_keying"

    id: Mapped[int] = mapped_column(primary_key=True)
    hashed_through: Mapped[date | None]


class Event(Base):
    """Something a recipient or the relay did. Append-only: never updated, never deleted."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # open, click, unsubscribe, bounce, soft_bounce
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)  # a day's events (console, retention)
    url: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(String(500))
    # a privacy proxy, prefetcher or security scanner, not a person: kept out of engagement
    machine: Mapped[bool] = mapped_column(default=False, server_default=false())
    # who reported it when not our own tracking: "arf", "ses", "sendgrid", "mailgun", "postmark", ...
    source: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None]  # the report as received (a feedback loop's, a webhook's)


class SurveyAnswer(Base):
    """A recipient's answer to the survey in one mail. Re-clicking another score changes this
    row (`updated_at`), it never adds one: one mail, one answer."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("outbox_id", "survey"),
        Index("ix_survey_answers_customer", "customer_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    survey: Mapped[str] = mapped_column(String(8))  # "csat" (1..5) or "nps" (0..10)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]  # the first click
    updated_at: Mapped[datetime] = mapped_column(index=True)  # the last change of score or comment


class ManagerDigest(Base):
    """Up to when each account manager's digest has reported: the next one starts there."""

    __tablename__ = "manager_digests"

    manager_email: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower-case
    covered_until: Mapped[datetime]
    sent_at: Mapped[datetime | None]  # the last digest actually mailed (None: never had news)


class SendingPause(Base):
    """Sending held back until a person resumes it: `scope` is `campaign:NAME` or `bulk` (all
    marketing mail). Queued rows wait; nothing is dropped."""

    __tablename__ = "sending_pauses"

    scope: Mapped[str] = mapped_column(String(120), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    paused_at: Mapped[datetime]


class Suppression(Base):
    """Mailboxes that must never be mailed again (unsubscribed, hard-bounced): one row a mailbox,
    found by `address_key` (edm.addresses), whatever the capitals of the address mailed."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # as first suppressed
    address_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True, index=True,
                                             default=lambda c: _key_of(c))
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Consent(Base):
    """Why a mailbox may be mailed now: its latest consent, one row a mailbox (`address_key`,
    edm.addresses), for a customer's address and a contact's alike. No row: the customer
    relationship alone (`existing_customer`, from the customer record; edm.consent)."""

    __tablename__ = "consents"

    address_key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    basis: Mapped[str] = mapped_column(String(24))  # explicit, existing_customer, none
    status: Mapped[str] = mapped_column(String(16))  # granted, pending, withdrawn
    source: Mapped[str] = mapped_column(String(200))  # import:FILE, api, signup, preferences, erase...
    wording_version: Mapped[str | None] = mapped_column(String(64))  # the consent text shown
    ip: Mapped[str | None] = mapped_column(String(64))  # web sign-ups only
    user_agent: Mapped[str | None] = mapped_column(String(500))
    recorded_at: Mapped[datetime]


class ConsentHistory(Base):
    """Every consent ever recorded, oldest first: what a person's export shows, what proves a basis."""

    __tablename__ = "consent_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    address_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    basis: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
    wording_version: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(index=True)


class Signup(Base):
    """A web sign-up waiting for (or given) its double opt-in confirmation. The confirmation link
    is signed over `id` and `nonce`; a confirmed or expired row confirms nothing again."""

    __tablename__ = "signups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    address_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(16))
    topics: Mapped[str | None] = mapped_column(Text)  # chosen on the form (as Customer.topics_off)
    nonce: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending, confirmed, expired
    form: Mapped[str] = mapped_column(String(64))  # which form: "hosted", "embed", ...
    wording_version: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    mailed_at: Mapped[datetime | None]  # the confirmation mail accepted by the relay (None: not yet)
    confirmed_at: Mapped[datetime | None]


class ForgottenAddress(Base):
    """A mailbox whose person was erased: only a keyed hash of its canonical address, so a later
    import or sign-up of it is held until new consent, and the address itself is kept nowhere."""

    __tablename__ = "forgotten_addresses"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC-SHA256, hex
    forgotten_at: Mapped[datetime]


class AuditEntry(Base):
    """Who did what to whom, when: erasures, exports, consent changes by hand. Never the data itself."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))  # OS user, API key name, "tracking"
    action: Mapped[str] = mapped_column(String(32))  # erase, export, retention, ...
    subject: Mapped[str | None] = mapped_column(String(200))  # e.g. "customer 42"
    detail: Mapped[str | None] = mapped_column(Text)


class EventTotal(Base):
    """Raw events past `retention.events_days`, counted per message, day, kind and machine flag
    (edm.privacy.retention): the reports read these beside `events`, so their figures stay the same
    after the raw rows (with their URLs and user agents) are dropped. No person is named here."""

    __tablename__ = "event_totals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(index=True)  # the UTC day the events came
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    machine: Mapped[bool] = mapped_column(default=False, server_default=false())
    events: Mapped[int]  # how many raw events this row replaced


class ConsoleUser(Base):
    """A person who signs in to the web console (edm.console): a role, and for an account manager
    the email that links them to `customers.account_manager_email`. Never deleted, only disabled."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin, marketer, analyst, manager
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, with its parameters
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    signed_out_at: Mapped[datetime | None]  # sessions issued before it are over (every device's)


class CampaignApproval(Base):
    """A campaign approved by a console user: one with `approval: required` is planned only while
    an approval of it stands (`revoked_at` None)."""

    __tablename__ = "campaign_approvals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(100), index=True)
    approved_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
