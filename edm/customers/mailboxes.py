"""Customers who share one mailbox: two CRM records whose addresses differ only in spelling.

They may well be two records of one person, or two people at one shared address; either
way an unsubscribe or a hard bounce by one holds for all of them (edm.suppression keys by
the canonical address), which the importer says, so nobody is surprised.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from edm.store import Customer

SHOWN = 3


@dataclass(frozen=True)
class SharedPair:
    """A customer and the first customer (lowest id) with the same mailbox."""

    external_id: str
    email: str
    first_external_id: str
    first_email: str


@dataclass(frozen=True)
class SharedMailboxes:
    customers: int  # customers whose mailbox another customer also has
    mailboxes: int  # the mailboxes they share
    pairs: tuple[SharedPair, ...]  # the first few

    def warning(self) -> str:
        """One line for the import summary."""
        shown = "; ".join(f"{p.external_id} {p.email} = {p.first_external_id} {p.first_email}"
                          for p in self.pairs)
        more = "; ..." if self.customers - self.mailboxes > len(self.pairs) else ""
        everyone = "both" if self.customers == 2 * self.mailboxes else "all who share it"
        return (f"warning: {self.customers} customers share a mailbox with another: {shown}{more}; "
                f"an unsubscribe by one holds for {everyone}")


def shared_mailboxes(session: Session, shown: int = SHOWN) -> SharedMailboxes | None:
    """Who shares a mailbox (an indexed GROUP BY over `customers.email_key`); None when nobody does."""
    groups = (select(Customer.email_key, func.min(Customer.id).label("first_id"), func.count().label("n"))
              .group_by(Customer.email_key).having(func.count() > 1).subquery())
    count, mailboxes = session.execute(select(func.coalesce(func.sum(groups.c.n), 0), func.count())).one()
    if not count:
        return None
    first = aliased(Customer, name="first")
    rows = session.execute(
        select(Customer.external_id, Customer.email, first.external_id, first.email)
        .join(groups, groups.c.email_key == Customer.email_key)
        .join(first, first.id == groups.c.first_id)
        .where(Customer.id != groups.c.first_id)
        .order_by(Customer.id)
        .limit(shown)
    )
    return SharedMailboxes(int(count), int(mailboxes), tuple(SharedPair(*row) for row in rows))
