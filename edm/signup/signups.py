"""The store side of double opt-in: a sign-up written, confirmed once, or expired and blanked.

A sign-up changes nobody's standing until it is confirmed. The consent it records (basis `explicit`
asked for, status `pending`: no basis at all until confirmed) replaces only a mailbox without a
basis (no consent row and no customer, or a consent that is pending or withdrawn), never a
`granted` consent nor the implicit `existing_customer` basis of a customer on file: signing up
again must not cost a customer their basis before they confirm.

Confirming records consent `explicit`/`granted` from "signup" with the sign-up's IP address,
user agent and wording version, creates the customer (kind "person") when no customer has the
mailbox, and sets the topics not chosen off. Expiring blanks the row's personal fields (email,
address key, name, IP, user agent; the row stays as a count, with its nonce so its link can still
say "expired") and withdraws the pending consent it had recorded (basis `none`: nothing was given),
unless another sign-up of the mailbox is still waiting or the consent changed since.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.addresses import canonical_address
from edm.consent.record import EXPLICIT, GRANTED, NO_BASIS, PENDING, WITHDRAWN, ConsentGiven, record
from edm.store import Consent, Customer, Signup
from edm.suppression import suppressed_keys

SOURCE = "signup"
EXPIRED_SOURCE = "signup expired"
STATE_PENDING, STATE_CONFIRMED, STATE_EXPIRED = "pending", "confirmed", "expired"
MAX_PER_ADDRESS_PER_DAY = 3  # more sign-ups of one mailbox in a day are dropped: no mail-bombing a stranger
TOPIC_SEPARATOR = ", "


@dataclass(frozen=True, slots=True)
class SignupRequest:
    """A person's sign-up as posted (already judged not a bot's, the address already valid)."""

    email: str
    name: str | None
    locale: str
    topics: tuple[str, ...] | None  # chosen; None when the form offered none
    form: str
    wording_version: str
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class PendingSignup:
    """What the confirmation mail needs of a sign-up."""

    id: int
    email: str
    name: str | None
    locale: str
    nonce: str
    topics: tuple[str, ...]
    expires_at: datetime


class Outcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already"  # confirmed before: nothing written
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # no such sign-up, or the nonce does not match


@dataclass(frozen=True, slots=True)
class Confirmation:
    outcome: Outcome
    locale: str | None = None
    customer_id: int | None = None


def submit(session: Session, request: SignupRequest, now: datetime, expire_hours: float) -> int | None:
    """Write the sign-up (and its pending consent where that takes nothing away); its id, or None when
    nothing was written: the mailbox is suppressed, or signed up too often today."""
    key = canonical_address(request.email)
    if suppressed_keys(session, [request.email]):
        return None
    recent = session.scalar(select(func.count()).select_from(Signup).where(
        Signup.address_key == key, Signup.created_at > now - timedelta(days=1)))
    if (recent or 0) >= MAX_PER_ADDRESS_PER_DAY:
        return None
    signup = Signup(
        email=request.email, address_key=key, name=request.name, locale=request.locale,
        topics=join_topics(request.topics) if request.topics is not None else None,
        nonce=secrets.token_urlsafe(24), state=STATE_PENDING, form=request.form,
        wording_version=request.wording_version, ip=request.ip, user_agent=request.user_agent,
        created_at=now, expires_at=now + timedelta(hours=expire_hours), mailed_at=None, confirmed_at=None,
    )
    session.add(signup)
    session.flush()
    if _without_basis(session, key):
        record(session, [ConsentGiven(request.email, EXPLICIT, PENDING, SOURCE, now, request.wording_version,
                                      request.ip, request.user_agent)])
    return signup.id


def _without_basis(session: Session, key: str) -> bool:
    """Whether a pending consent would take no basis away from the mailbox."""
    current = session.get(Consent, key)
    if current is not None:
        return current.status != GRANTED
    return session.scalar(select(Customer.id).where(Customer.email_key == key).limit(1)) is None


def confirm(
    session: Session, signup_id: int, nonce: str, now: datetime, offered: Sequence[str]
) -> Confirmation:
    """Confirm the sign-up once (see the module docstring); `offered`: the topics the form offers."""
    signup = session.scalar(select(Signup).where(Signup.id == signup_id).with_for_update())
    if signup is None or not signup.nonce or not hmac.compare_digest(signup.nonce, nonce):
        return Confirmation(Outcome.UNKNOWN)
    if signup.state == STATE_CONFIRMED:
        return Confirmation(Outcome.ALREADY, signup.locale)
    if signup.state != STATE_PENDING or signup.expires_at <= now:
        return Confirmation(Outcome.EXPIRED, signup.locale)
    signup.state, signup.confirmed_at = STATE_CONFIRMED, now
    record(session, [ConsentGiven(signup.email, EXPLICIT, GRANTED, SOURCE, now, signup.wording_version,
                                  signup.ip, signup.user_agent)])
    chosen = split_topics(signup.topics)
    customers = list(session.scalars(select(Customer).where(Customer.email_key == signup.address_key)))
    if not customers:
        customer = Customer(
            external_id=f"signup-{signup.id}", name=signup.name or signup.email.partition("@")[0],
            email=signup.email, kind="person", locale=signup.locale, timezone="UTC", created_at=now,
            topics_off=topics_off(None, offered, chosen) if signup.topics is not None else None,
        )
        session.add(customer)
        session.flush()
        return Confirmation(Outcome.CONFIRMED, signup.locale, customer.id)
    if signup.topics is not None:
        for customer in customers:
            customer.topics_off = topics_off(customer.topics_off, offered, chosen)
    return Confirmation(Outcome.CONFIRMED, signup.locale, customers[0].id)


def topics_off(before: str | None, offered: Iterable[str], chosen: Iterable[str]) -> str | None:
    """A customer's topics off after choosing `chosen` of `offered`: the offered ones not chosen are
    off, the chosen ones on, any other stays as it was; None when none is off."""
    chosen_set = set(chosen)
    off = (set(split_topics(before)) - chosen_set) | (set(offered) - chosen_set)
    return join_topics(off) or None


def join_topics(topics: Iterable[str]) -> str:
    return TOPIC_SEPARATOR.join(sorted({t.strip().lower() for t in topics if t.strip()}))


def split_topics(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def due_for_mail(session: Session, now: datetime, created_before: datetime) -> list[PendingSignup]:
    """Pending sign-ups whose confirmation the relay has not accepted yet (made before
    `created_before`, so a mail being sent by the form's own request is not sent twice), never
    to a suppressed mailbox."""
    rows = list(session.scalars(select(Signup).where(
        Signup.state == STATE_PENDING, Signup.mailed_at.is_(None), Signup.expires_at > now,
        Signup.created_at <= created_before).order_by(Signup.id)))
    listed = suppressed_keys(session, [row.email for row in rows])
    return [pending(row) for row in rows if row.address_key not in listed]


def pending(row: Signup) -> PendingSignup:
    return PendingSignup(row.id, row.email, row.name, row.locale, row.nonce, split_topics(row.topics),
                         row.expires_at)


def mark_mailed(session: Session, signup_ids: Iterable[int], now: datetime) -> None:
    ids = sorted(set(signup_ids))
    if ids:
        session.execute(update(Signup).where(Signup.id.in_(ids), Signup.mailed_at.is_(None))
                        .values(mailed_at=now))


def expire(session: Session, now: datetime, signup_ids: Iterable[int] | None = None) -> int:
    """Expire the pending sign-ups past their time (or those of `signup_ids`, now: their address was
    refused for good); how many. See the module docstring for what is blanked and withdrawn."""
    query = select(Signup).where(Signup.state == STATE_PENDING)
    if signup_ids is None:
        query = query.where(Signup.expires_at <= now)
    else:
        query = query.where(Signup.id.in_(sorted(set(signup_ids))))
    rows = list(session.scalars(query.with_for_update()))
    emails = {row.address_key: row.email for row in rows}
    for row in rows:
        row.state = STATE_EXPIRED
        row.email, row.address_key, row.name, row.ip, row.user_agent = "", "", None, None, None
    session.flush()
    withdrawn = []
    for key, email in sorted(emails.items()):
        waiting = session.scalar(select(Signup.id).where(
            Signup.address_key == key, Signup.state == STATE_PENDING, Signup.expires_at > now).limit(1))
        current = session.get(Consent, key)
        if waiting is None and current is not None and current.status == PENDING and current.source == SOURCE:
            withdrawn.append(ConsentGiven(email, NO_BASIS, WITHDRAWN, EXPIRED_SOURCE, now,
                                          current.wording_version))
    record(session, withdrawn)
    return len(rows)


def expire_due(sessions: sessionmaker[Session], now: datetime) -> int:
    """`edm signup expire` and the daemon's job: expire, in one transaction, what is past its time."""
    with sessions.begin() as session:
        return expire(session, now)
