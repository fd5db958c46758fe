"""Recording what recipients did: opens and clicks in batches, unsubscribes, preferences (pause, less
mail, topics, personalisation), and what
feedback loops and sending services report (bounces, complaints, unsubscribes: `record_feedback`).

Kept apart from the HTTP routes (which only verify tokens) and from the batching (ingest.py).
Nothing is written for a customer that does not exist, nor for a token pairing a customer
with someone else's mail; the result says so and the route answers 404.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from edm.addresses import canonical_address
from edm.consent.record import EXPLICIT, GRANTED, NO_BASIS, WITHDRAWN, ConsentGiven, record
from edm.consent.topics import topics_in, topics_text
from edm.delivery.bounces import mail_reference
from edm.store import Customer, CustomerProfile, Event, OutboxMessage
from edm.store.rows import append_rows
from edm.suppression import COMPLAINT, HARD_BOUNCE, UNSUBSCRIBED, suppress
from edm.tracking.machine import DEFAULT_RULES, MachineRules, is_machine

USER_AGENT_MAX = 500  # the width of events.user_agent
PAUSE_DAYS = (30, 60, 90)  # what the preference page offers
LESS = "less"  # Customer.frequency_preference: stretch the contact interval


@dataclass(frozen=True, slots=True)
class Hit:
    """An open or click as the server saw it, before it is checked and stored."""

    kind: str  # "open" or "click"
    customer_id: int
    outbox_id: int
    occurred_at: datetime
    url: str | None = None
    user_agent: str | None = None
    ip: str | None = None


# built once: a batch's statements differ only in their parameters
_MAILS = (select(OutboxMessage.id, OutboxMessage.customer_id, OutboxMessage.sent_at)
          .where(OutboxMessage.id.in_(bindparam("ids", expanding=True))))


def record_hits(session: Session, hits: Sequence[Hit], rules: MachineRules = DEFAULT_RULES) -> list[bool]:
    """Append the valid hits as events in one statement; per hit, whether it was stored.

    A hit is refused when its customer does not exist or its mail belongs to another
    customer. A mail whose row is gone is recorded with no outbox id: the customer's
    action still counts. Each event is flagged `machine` by `rules` (edm.tracking.machine).
    """
    if not hits:
        return []
    connection = session.connection()  # Core, not the ORM: these are plain rows
    ids = list({hit.outbox_id for hit in hits})
    mails = {row.id: row for row in connection.execute(_MAILS, {"ids": ids})}
    # a mail's customer exists (a foreign key); look up only those whose mail row is gone
    known = {mail.customer_id for mail in mails.values()}
    unsure = {hit.customer_id for hit in hits if hit.outbox_id not in mails} - known
    if unsure:
        known.update(session.scalars(select(Customer.id).where(Customer.id.in_(unsure))))
    stored: list[bool] = []
    rows: list[dict[str, Any]] = []
    for hit in hits:
        mail = mails.get(hit.outbox_id)
        if hit.customer_id not in known or (mail is not None and mail.customer_id != hit.customer_id):
            stored.append(False)
            continue
        seconds = _seconds_since_sent(hit.occurred_at, mail.sent_at) if mail is not None else None
        rows.append({
            "kind": hit.kind,
            "customer_id": hit.customer_id,
            "outbox_id": hit.outbox_id if mail is not None else None,
            "occurred_at": hit.occurred_at,
            "url": hit.url,
            "user_agent": _clip(hit.user_agent),
            "machine": is_machine(hit.user_agent, hit.ip, seconds, rules),
        })
        stored.append(True)
    if rows:
        append_rows(connection, Event.__tablename__, rows)
        _tell_webhooks(session, rows)
    return stored


def _tell_webhooks(session: Session, rows: list[dict[str, Any]]) -> None:
    """message.clicked for each person's click (a scanner's is no event), in this transaction."""
    from edm.webhooks import events as outbound
    from edm.webhooks.emit import emit, wanted

    clicks = [row for row in rows if row["kind"] == "click" and not row["machine"]]
    if not clicks or not wanted(session, outbound.CLICKED):
        return
    people = {i: (x, e) for i, x, e in session.execute(
        select(Customer.id, Customer.external_id, Customer.email)
        .where(Customer.id.in_({row["customer_id"] for row in clicks})))}
    made = [outbound.clicked(people[row["customer_id"]], row["outbox_id"], row["url"], row["occurred_at"])
            for row in clicks]
    emit(session, made, max(row["occurred_at"] for row in clicks))


def _seconds_since_sent(at: datetime, sent_at: datetime | None) -> float:
    """A mail with no send time yet is being sent right now: whoever opens it is that quick."""
    return 0.0 if sent_at is None else (at - sent_at).total_seconds()


def _clip(user_agent: str | None) -> str | None:
    return user_agent[:USER_AGENT_MAX] if user_agent else None


def record_event(
    session: Session,
    *,
    kind: str,
    customer_id: int,
    outbox_id: int | None,
    occurred_at: datetime,
    url: str | None = None,
    user_agent: str | None = None,
) -> bool:
    """Append one event written by a person's deliberate action (an unsubscribe); checked as
    `record_hits` checks, never flagged machine."""
    if session.get(Customer, customer_id) is None:
        return False
    mail = session.get(OutboxMessage, outbox_id) if outbox_id is not None else None
    if mail is not None and mail.customer_id != customer_id:
        return False
    session.add(
        Event(
            kind=kind,
            customer_id=customer_id,
            outbox_id=outbox_id if mail is not None else None,
            occurred_at=occurred_at,
            url=url,
            user_agent=_clip(user_agent),
        )
    )
    return True


def customer_email(session: Session, customer_id: int) -> str | None:
    """The customer's address, or None when there is no such customer."""
    customer = session.get(Customer, customer_id)
    return None if customer is None else customer.email


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a page is for: what to show and in which language."""

    email: str
    locale: str
    paused_until: datetime | None
    frequency_preference: str | None
    topics_off: frozenset[str] = frozenset()  # the topics they turned off (preference page)
    personalised: bool = True  # False: they chose no personalisation (PIPL Art. 24)


def recipient(session: Session, customer_id: int, outbox_id: int) -> Recipient | None:
    """The customer behind a link, or None when there is none or the mail is someone else's."""
    customer = session.get(Customer, customer_id)
    mail = session.get(OutboxMessage, outbox_id)
    if customer is None or (mail is not None and mail.customer_id != customer_id):
        return None
    return Recipient(customer.email, customer.locale, customer.paused_until, customer.frequency_preference,
                     topics_in(customer.topics_off), customer.personalised)


def unsubscribe(
    session: Session,
    *,
    customer_id: int,
    outbox_id: int | None,
    occurred_at: datetime,
    user_agent: str | None = None,
) -> str | None:
    """Record the unsubscribe and suppress the customer's address (and the address the mail
    went to, if that differs); the customer's address, or None when there is no such customer
    or the mail is someone else's. Idempotent: an address already suppressed stays as it was."""
    email = customer_email(session, customer_id)
    if email is None:
        return None
    if not record_event(
        session,
        kind="unsubscribe",
        customer_id=customer_id,
        outbox_id=outbox_id,
        occurred_at=occurred_at,
        user_agent=user_agent,
    ):
        return None
    addresses = {email}
    outbox = session.get(OutboxMessage, outbox_id) if outbox_id is not None else None
    if outbox is not None:
        addresses.add(outbox.to_address)
    suppress(session, addresses, UNSUBSCRIBED, occurred_at)
    withdrawn = [ConsentGiven(address, NO_BASIS, WITHDRAWN, "unsubscribe", occurred_at, user_agent=user_agent)
                 for address in sorted(addresses)]
    record(session, withdrawn)  # the consent history shows when consent ended
    return email


def pause(session: Session, *, customer_id: int, days: int, now: datetime) -> datetime | None:
    """No marketing mail for `days` from `now` (one of PAUSE_DAYS); when it ends, or None when
    there is no such customer. A longer pause already asked for is kept."""
    if days not in PAUSE_DAYS:
        raise ValueError(f"a pause is one of {PAUSE_DAYS} days, not {days}")
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    until = now + timedelta(days=days)
    if customer.paused_until is None or customer.paused_until < until:
        customer.paused_until = until
    return customer.paused_until


def ask_for_less(session: Session, *, customer_id: int) -> bool:
    """Mark the customer as wanting less mail (edm.engagement stretches their interval)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return False
    customer.frequency_preference = LESS
    # marked for the next engagement refresh, incremental or not: it stretches their interval
    session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == customer_id)
                    .values(interval_updated_at=None))
    return True


@dataclass(frozen=True, slots=True)
class Proof:
    """Who made a choice on a page, kept with the consent it records: when, from where, with what."""

    at: datetime
    ip: str | None
    user_agent: str | None


PREFERENCES = "preferences"  # the consent source of a choice made on the preference page


def choose(
    session: Session, *, customer_id: int, offered: Collection[str], kept: Collection[str],
    personalised: bool, proof: Proof,
) -> bool:
    """Save the preference page's choices: of the `offered` topics only those `kept` stay on (a topic
    turned off before and no longer offered stays off), and whether mail may be personalised.
    Keeping a topic is the person's own opt-in: explicit consent (source "preferences", with the
    proof) is recorded for their address. False when there is no such customer. The row the link
    names is the one changed: the choice belongs to that mailbox's owner."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return False
    before = topics_in(customer.topics_off)
    customer.topics_off = topics_text((before - set(offered)) | (set(offered) - set(kept)))
    customer.personalised = personalised
    if kept:
        record(session, [ConsentGiven(customer.email, EXPLICIT, GRANTED, PREFERENCES, proof.at,
                                      ip=proof.ip, user_agent=proof.user_agent)])
    return True


def turn_off_topic(session: Session, *, customer_id: int, topic: str) -> str | None:
    """Add `topic` to the customer's topics turned off (a per-topic one-click unsubscribe); their
    address, or None when there is no such customer. Idempotent."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    customer.topics_off = topics_text(topics_in(customer.topics_off) | {topic})
    return customer.email


FEEDBACK_KINDS = ("bounce", "soft_bounce", "complaint", "unsubscribe")
"""The one vocabulary feedback loops (ARF) and provider webhooks are told in."""
# what each kind suppresses the address for; a soft bounce suppresses nothing
_REASONS = {"bounce": HARD_BOUNCE, "complaint": COMPLAINT, "unsubscribe": UNSUBSCRIBED}


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a mailbox provider or a sending service reports about one mail to one recipient."""

    kind: str  # one of FEEDBACK_KINDS
    source: str  # "arf", "ses", "sendgrid", "mailgun", "postmark"
    email: str | None  # the recipient it names (None when redacted)
    message_ids: tuple[str, ...]  # Message-IDs (or outbox key prefixes) that may be our mail's, best first
    occurred_at: datetime | None
    detail: dict[str, Any] = field(default_factory=dict)  # the report as received (JSON-able)


class FeedbackOutcome(StrEnum):
    RECORDED = "recorded"  # an event for the mail (or customer), the address suppressed if the kind says so
    SUPPRESSED = "suppressed"  # no customer of ours has that address: only the suppression
    REPEATED = "repeated"  # recorded before: nothing new
    UNKNOWN = "unknown"  # about no mail or address we know: nothing written


def record_feedback(
    session: Session, feedback: Feedback, now: datetime, *, authenticated: bool, keys: Sequence[bytes] = ()
) -> FeedbackOutcome:
    """Record one report: a `kind` event (with its source and detail) for our mail, and the suppression.

    Whose mail it is: the outbox row our Message-ID names (its first 32 hex digits are the row's
    key). An `authenticated` report (a verified webhook) is believed about the address it names:
    that address is suppressed, and a Message-ID naming a mail to another address is ignored in
    favour of the customer with that address. An unauthenticated one (a feedback-loop mail, which
    anyone can send to the bounce mailbox) only acts on a mail of ours (a Message-ID whose tag was
    made with one of `keys`) and suppresses the address that mail went to, never an address the
    report merely names.
    """
    if feedback.kind not in FEEDBACK_KINDS:
        raise ValueError(f"not a feedback kind: {feedback.kind!r}")
    named = feedback.email if authenticated and feedback.email and "@" in feedback.email else None
    row = _mail_named(session, feedback.message_ids, None if authenticated else keys)
    if named and row is not None and canonical_address(row.to_address) != canonical_address(named):
        row = None  # the provider's word on the address outweighs a Message-ID naming another mail
    customer_id = row.customer_id if row is not None else None
    if row is None and named is not None:
        row, customer_id = _latest_mail_to(session, named)
    if customer_id is None:
        if named is None:
            return FeedbackOutcome.UNKNOWN
        reason = _REASONS.get(feedback.kind)
        if reason is not None:
            suppress(session, [named], reason, now)
        return FeedbackOutcome.SUPPRESSED if reason is not None else FeedbackOutcome.UNKNOWN
    addresses = {address for address in (named, row.to_address if row is not None else None) if address}
    if feedback.kind in _REASONS:
        suppress(session, addresses, _REASONS[feedback.kind], now)
    when = feedback.occurred_at or now
    if _recorded(session, feedback, customer_id, row, when):
        return FeedbackOutcome.REPEATED
    if feedback.kind == "bounce" and row is not None and row.state == "sent":
        row.state, row.claimed_until = "bounced", None
        row.last_reply = f"{feedback.source}: hard bounce"
    outbox_id = row.id if row is not None else None
    session.add(Event(kind=feedback.kind, customer_id=customer_id, outbox_id=outbox_id, occurred_at=when,
                      source=feedback.source, detail=feedback.detail))
    return FeedbackOutcome.RECORDED


def _mail_named(session: Session, message_ids: Sequence[str],
                keys: Sequence[bytes] | None) -> OutboxMessage | None:
    """The first outbox row one of `message_ids` names (edm.delivery.bounces.mail_reference); with
    `keys`, only an id whose tag proves it ours counts."""
    for message_id in message_ids:
        reference = mail_reference(message_id)
        if reference is None or (keys is not None and not reference.genuine(keys)):
            continue
        prefix = reference.prefix
        row = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.key >= prefix, OutboxMessage.key < prefix + "g")
            .order_by(OutboxMessage.key)
            .limit(1)
        ).first()
        if row is not None:
            return row
    return None


def _latest_mail_to(session: Session, address: str) -> tuple[OutboxMessage | None, int | None]:
    """The last mail sent to the customer with this mailbox, and that customer's id (None, None: nobody)."""
    customers = select(Customer.id).where(Customer.email_key == canonical_address(address))
    row = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.customer_id.in_(customers), OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        return row, row.customer_id
    return None, session.scalar(customers.order_by(Customer.id).limit(1))


def _recorded(session: Session, feedback: Feedback, customer_id: int, row: OutboxMessage | None,
              when: datetime) -> bool:
    """Whether this report was recorded before: one event of a kind per mail (per customer and time
    when no mail is known). A soft bounce is told apart from a later one by its time."""
    query = select(Event.id).where(Event.kind == feedback.kind, Event.customer_id == customer_id)
    if row is not None:
        query = query.where(Event.outbox_id == row.id)
    if row is None or feedback.kind == "soft_bounce":
        query = query.where(Event.occurred_at == when)
    return session.scalar(query.limit(1)) is not None
