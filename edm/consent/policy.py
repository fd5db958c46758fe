"""Whether a mailbox may get a campaign kind's mail, by its lawful basis: pure, over plain data.

The basis that holds now (`standing`) comes from the mailbox's consent row, if any:
- no row: `existing_customer`, dated by the later of the customer record's creation and their
  last order (a company's CRM export carries its own customers);
- a `granted` row: its basis; `existing_customer` dated by the later of when it was recorded
  and the last order;
- a `pending` or `withdrawn` row: `none`.
`existing_customer` holds only within `consent.soft_opt_in_months` of its date (the soft opt-in
rule); after that the mailbox has basis `none`. `consent.kinds` says which bases each campaign
kind may mail on (`hold_reason`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from edm.config import ConsentSettings
from edm.consent.record import EXISTING_CUSTOMER, EXPLICIT, GRANTED, NO_BASIS, PENDING, WITHDRAWN
from edm.wording import count


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """What is known about one mailbox's consent: its row (None fields: no row) and the customer."""

    basis: str | None = None  # the consents row's; None when the mailbox has no row
    status: str | None = None
    recorded_at: datetime | None = None
    source: str | None = None
    customer_since: datetime | None = None  # the customer record's created_at
    last_order_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """The basis that holds now, and in words why (for a hold reason or a card)."""

    basis: str  # explicit, existing_customer or none
    why: str  # e.g. "existing customer, last order 2024-03-01 (31 months ago; soft opt-in 24 months)"
    since: datetime | None = None  # the date the basis counts from (existing_customer: its window's start)


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` that many calendar months later (the 31st becomes the month's last day)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def months_between(earlier: datetime, later: datetime) -> int:
    """Whole calendar months from `earlier` to `later` (0 when `later` is not a month on)."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return max(months - (add_months(earlier, months) > later), 0)


def standing(facts: ConsentFacts, now: datetime, settings: ConsentSettings) -> Standing:
    """The basis the mailbox has at `now`."""
    if facts.basis is not None and facts.status != GRANTED:
        return Standing(NO_BASIS, _not_granted(facts))
    if facts.basis == EXPLICIT:
        return Standing(EXPLICIT, f"explicit consent {_on(facts.recorded_at)}{_from(facts)}",
                        facts.recorded_at)
    if facts.basis == NO_BASIS:
        return Standing(NO_BASIS, f"no lawful basis recorded{_from(facts)}")
    return _existing_customer(facts, now, settings.soft_opt_in_months)


def hold_reason(facts: ConsentFacts, kind: str, now: datetime, settings: ConsentSettings) -> str | None:
    """Why a campaign of `kind` may not mail this mailbox now; None when it may."""
    if basis(facts, now, settings) in settings.allowed(kind):
        return None  # the planner asks once per audience member: no words unless held
    return f"no consent for {kind}: {standing(facts, now, settings).why}"


def basis(facts: ConsentFacts, now: datetime, settings: ConsentSettings) -> str:
    """`standing(...).basis`, without putting the why into words."""
    if facts.basis is not None and facts.status != GRANTED:
        return NO_BASIS
    if facts.basis == EXPLICIT or facts.basis == NO_BASIS:
        return facts.basis
    since = _soft_opt_in_since(facts)
    if since is None or not _within(since, now, settings.soft_opt_in_months):
        return NO_BASIS
    return EXISTING_CUSTOMER


def _within(since: datetime, now: datetime, months: int) -> bool:
    """`now < add_months(since, months)`, the date built only when it falls in `now`'s month: the
    planner asks this of every audience member. (Months compared only within one zone.)"""
    if since.tzinfo is now.tzinfo:
        ahead = (since.year - now.year) * 12 + since.month - now.month + months
        if ahead:
            return ahead > 0
    return now < add_months(since, months)


def _soft_opt_in_since(facts: ConsentFacts) -> datetime | None:
    """The date `existing_customer` counts from: the later of the record (or the row) and the last order."""
    recorded = facts.recorded_at if facts.basis is not None else facts.customer_since
    if recorded is None or facts.last_order_at is None:
        return recorded or facts.last_order_at
    return max(recorded, facts.last_order_at)


def _existing_customer(facts: ConsentFacts, now: datetime, months: int) -> Standing:
    since = _soft_opt_in_since(facts)
    if since is None:
        return Standing(NO_BASIS, "existing customer without any date to count the soft opt-in from")
    ordered = facts.last_order_at is not None and since == facts.last_order_at
    what = "last order" if ordered else ("recorded" if facts.basis is not None else "customer since")
    ago = months_between(since, now)
    dated = (f"existing customer, {what} {since:%Y-%m-%d} ({count(ago, 'month')} ago; "
             f"soft opt-in {count(months, 'month')})")
    if now < add_months(since, months):
        return Standing(EXISTING_CUSTOMER, dated, since)
    return Standing(NO_BASIS, dated, since)


def _not_granted(facts: ConsentFacts) -> str:
    if facts.source == "erased":
        return f"erased {_on(facts.recorded_at)} and imported again without new consent"
    if facts.status == PENDING:
        return f"consent pending (not confirmed) since {_on(facts.recorded_at)}{_from(facts)}"
    if facts.status == WITHDRAWN:
        return f"consent withdrawn {_on(facts.recorded_at)}{_from(facts)}"
    return f"consent {facts.status}{_from(facts)}"


def _on(moment: datetime | None) -> str:
    return "on an unknown date" if moment is None else f"{moment:%Y-%m-%d}"


def _from(facts: ConsentFacts) -> str:
    return f" ({facts.source})" if facts.source else ""
