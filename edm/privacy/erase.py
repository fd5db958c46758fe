"""Forgetting a person (PIPL Art. 47, GDPR Art. 17): their personal data goes, the figures stay.

In one transaction: rows that reports count (the customer, their mails, events, survey scores,
orders, profile) are kept but stripped of everything that names or reaches the person; rows that
are only about the person (contacts, consents, sign-ups, suppressions of their mailboxes) are
deleted; the mailboxes are remembered as keyed hashes (`edm.consent.forgotten`), so a later import
of the same address is held until new consent. The audit entry names the internal number only.

On SQLite the transaction runs with `PRAGMA secure_delete` (freed bytes are zeroed, not left in
free pages) and a `wal_checkpoint(TRUNCATE)` follows it, so the old values leave both the
database file and its write-ahead log (docs/privacy.md: measured, and why not VACUUM).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.addresses import canonical_address
from edm.consent.forgotten import forget
from edm.privacy.audit import ERASE, record_audit
from edm.privacy.export import find_customer
from edm.providers import OTHER, PROVIDERS, provider_of
from edm.store import (
    ApiAudit,
    Consent,
    ConsentHistory,
    Contact,
    Customer,
    CustomerEvent,
    Event,
    OutboxMessage,
    Signup,
    Suppression,
    SurveyAnswer,
    WebhookDelivery,
)
from edm.suppression import ERASED, suppress

ERASED_NAME = "(erased)"
UNSENT_STATES = ("queued", "deferred", "sending", "awaiting_winner")  # cancelled: never sent after erasure


@dataclass(frozen=True)
class EraseResult:
    customer_id: int
    mailboxes: int  # distinct mailboxes forgotten (the customer's, their contacts', any mailed before)
    contacts: int
    events: int
    mails: int
    cancelled: int  # unsent mails cancelled
    suppressions: int
    consents: int
    webhooks: int
    api_calls: int
    mail_files: int  # .eml files removed from mail_dir (the local sink's)


def changed(result: Any) -> int:
    """The rows an UPDATE or DELETE touched (a `CursorResult`; typed as the plain `Result`)."""
    return int(getattr(result, "rowcount", 0) or 0)


def placeholder_email(customer_id: int) -> str:
    """The erased customer's address: unique, and undeliverable by RFC 2606 (`.invalid`)."""
    return f"erased-{customer_id}@invalid"


def placeholder_recipient(address: str) -> str:
    """A mailed address made anonymous but kept countable by provider (the deliverability report groups
    by the receiving provider): erased@gmail.com for Gmail, erased@invalid for any other domain."""
    provider = provider_of(address)
    return "erased@invalid" if provider == OTHER else f"erased@{PROVIDERS[provider][0]}"


def mentions(value: Any, keys: set[str], identifiers: set[str]) -> bool:
    """Whether a JSON value names one of the mailboxes (`keys`, canonical: in any capitals) or one of
    `identifiers` anywhere, as a whole word (`Z-1` is not named by `Z-10`)."""
    if isinstance(value, dict):
        return any(mentions(k, keys, identifiers) or mentions(v, keys, identifiers) for k, v in value.items())
    if isinstance(value, list):
        return any(mentions(item, keys, identifiers) for item in value)
    if isinstance(value, str):
        return (any(_word(identifier, value, 0) for identifier in identifiers)
                or any(_word(key, value, re.IGNORECASE) for key in keys))
    return False


def _word(word: str, text: str, flags: int) -> bool:
    return re.search(rf"(?<![\w.+-]){re.escape(word)}(?![\w-])", text, flags) is not None


def erase_customer(sessions: sessionmaker[Session], key: str, signing_keys: Sequence[bytes], actor: str,
                   now: datetime, mail_dir: Path | None = None) -> EraseResult:
    """Erase the customer `key` (external id, else internal number); see the module docstring."""
    with sessions.begin() as session:
        sqlite = session.connection().dialect.name == "sqlite"
        if sqlite:  # bytes freed from here on are zeroed; off again before the connection is pooled
            session.connection().exec_driver_sql("PRAGMA secure_delete=ON")
        result, mailed = _erase(session, find_customer(session, key), signing_keys, actor, now)
        session.flush()
        if sqlite:
            session.connection().exec_driver_sql("PRAGMA secure_delete=OFF")
    if sqlite:  # the write-ahead log still holds the old pages: copy back, then empty it
        with sessions() as session:
            session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    files = _remove_mail_files(mail_dir, mailed) if mail_dir is not None else 0
    return EraseResult(**{**result.__dict__, "mail_files": files})


def _erase(session: Session, customer: Customer, signing_keys: Sequence[bytes], actor: str,
           now: datetime) -> tuple[EraseResult, set[str]]:
    cid, external_id = customer.id, customer.external_id
    contacts = list(session.scalars(select(Contact.email).where(Contact.customer_id == cid)))
    mailed = set(session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.customer_id == cid)
                                 .distinct()))
    addresses = {customer.email, *contacts, *mailed}
    keys = {canonical_address(address) for address in addresses}
    identifiers = {external_id, *addresses}

    cancelled = changed(session.execute(
        update(OutboxMessage).where(OutboxMessage.customer_id == cid, OutboxMessage.state.in_(UNSENT_STATES))
        .values(state="cancelled", last_reply="cancelled: the person was erased")))
    mails = 0
    for address in mailed:
        mails += changed(session.execute(
            update(OutboxMessage).where(OutboxMessage.customer_id == cid, OutboxMessage.to_address == address)
            .values(to_address=placeholder_recipient(address), last_reply=None, message_id=None)))
    events = changed(session.execute(update(Event).where(Event.customer_id == cid)
                             .values(url=None, user_agent=None, detail=None)))
    session.execute(update(SurveyAnswer).where(SurveyAnswer.customer_id == cid).values(comment=None))
    session.execute(update(CustomerEvent).where(CustomerEvent.customer_id == cid).values(properties=None))
    removed_contacts = changed(session.execute(delete(Contact).where(Contact.customer_id == cid)))
    suppressions = changed(session.execute(delete(Suppression).where(Suppression.address_key.in_(keys))))
    consents = changed(session.execute(delete(Consent).where(Consent.address_key.in_(keys))))
    session.execute(delete(ConsentHistory).where(ConsentHistory.address_key.in_(keys)))
    session.execute(delete(Signup).where(Signup.address_key.in_(keys)))
    webhooks = _redact_webhooks(session, keys, identifiers)
    api_calls = _redact_api_audit(session, cid, keys, identifiers)
    _anonymise(customer)
    suppress(session, [customer.email], ERASED, now)  # the row stays for reports: never mail it again
    forget(session, addresses, signing_keys, now)
    record_audit(session, actor, ERASE, f"customer {cid}", now,
                 f"{len(keys)} mailboxes forgotten, {events} events and {mails} mails anonymised")
    result = EraseResult(cid, len(keys), removed_contacts, events, mails, cancelled, suppressions, consents,
                         webhooks, api_calls, 0)
    return result, addresses


def _anonymise(customer: Customer) -> None:
    """The row stays (orders, mails and profile point to it; reports group by its locale and industry)."""
    customer.external_id = f"erased-{customer.id}"  # a re-import of the CRM id makes a new customer
    customer.name = ERASED_NAME
    customer.email = placeholder_email(customer.id)  # sets email_key too (Customer._keep_key)
    for name in ("contact_name", "birthday", "founded_on", "tags", "attributes", "paused_until",
                 "frequency_preference", "topics_off"):
        setattr(customer, name, None)


def _matching(session: Session, column: Any, model: Any, identifiers: Iterable[str]) -> list[Any]:
    """Rows whose JSON or text `column` contains one of `identifiers` (checked again in Python)."""
    conditions = [cast(column, Text).contains(identifier, autoescape=True) for identifier in identifiers]
    conditions += [cast(column, Text).contains(identifier.lower(), autoescape=True)
                   for identifier in identifiers]
    return list(session.scalars(select(model).where(or_(*conditions))))


def _redact_webhooks(session: Session, keys: set[str], identifiers: set[str]) -> int:
    """Webhook events about the person keep their type and state, not their payload; unsent ones go dead."""
    changed = 0
    for row in _matching(session, WebhookDelivery.payload, WebhookDelivery, identifiers):
        if not mentions(row.payload, keys, identifiers):
            continue
        row.payload = {"type": row.event_type, "erased": True}
        row.last_error = None
        if row.state == "pending":
            row.state, row.last_error = "dead", "not sent: the person was erased"
        changed += 1
    return changed


def _redact_api_audit(session: Session, customer_id: int, keys: set[str], identifiers: set[str]) -> int:
    """API calls about the person keep who called what and when, not the person's id or answer."""
    changed = 0
    rows = {row.id: row for row in _matching(session, ApiAudit.path, ApiAudit, identifiers)}
    rows.update({row.id: row for row in _matching(session, ApiAudit.summary, ApiAudit, identifiers)})
    for row in rows.values():
        segments = row.path.split("/")
        named = [i for i, segment in enumerate(segments) if segment in identifiers
                 or ("@" in segment and canonical_address(segment) in keys)]
        if not named and not mentions(row.summary, keys, identifiers):
            continue
        for i in named:
            segments[i] = f"erased-{customer_id}"
        row.path = "/".join(segments)
        operation = (row.summary or {}).get("operation")
        row.summary = {"operation": operation, "erased": True}
        changed += 1
    return changed


def _remove_mail_files(mail_dir: Path, addresses: Iterable[str]) -> int:
    """The local sink's `.eml` copies of mail to the person (edm.delivery.sink names them by recipient)."""
    if not mail_dir.is_dir():
        return 0
    safe = {"".join(ch if ch.isalnum() or ch in "@.-_" else "_" for ch in address).lower()
            for address in addresses}
    removed = 0
    for path in mail_dir.glob("*.eml"):
        recipient = path.stem.partition("-")[2].lower()
        if recipient in safe:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
