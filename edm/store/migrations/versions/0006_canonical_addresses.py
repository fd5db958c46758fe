"""Suppressions hold for the mailbox, not the spelling: canonical address keys on customers and
suppressions, computed here in Python (edm.addresses) for the rows already stored.

Two suppressions of one mailbox (`Alice@x.com`, `alice@x.com`) become one: the earliest is kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from edm.addresses import KEY_LENGTH, canonical_address

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5_000

_customers = sa.table("customers", sa.column("id", sa.BigInteger()), sa.column("email", sa.String()),
                      sa.column("email_key", sa.String()))
_suppressions = sa.table("suppressions", sa.column("email", sa.String()), sa.column("created_at"),
                         sa.column("address_key", sa.String()))


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(length=KEY_LENGTH), nullable=True))
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_key", sa.String(length=KEY_LENGTH), nullable=True))
    connection = op.get_bind()
    _fill_customers(connection)
    _fill_suppressions(connection)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("email_key", existing_type=sa.String(length=KEY_LENGTH), nullable=False)
        batch_op.create_index(batch_op.f("ix_customers_email_key"), ["email_key"], unique=False)
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.alter_column("address_key", existing_type=sa.String(length=KEY_LENGTH), nullable=False)
        batch_op.create_index(batch_op.f("ix_suppressions_address_key"), ["address_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppressions_address_key"))
        batch_op.drop_column("address_key")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_email_key"))
        batch_op.drop_column("email_key")


def _fill_customers(connection: sa.Connection) -> None:
    """Every customer's key, a batch at a time in id order (keyset paging: no OFFSET scans)."""
    update = (sa.update(_customers).where(_customers.c.id == sa.bindparam("row_id"))
              .values(email_key=sa.bindparam("key")))
    last: Any = None
    while True:
        page = sa.select(_customers.c.id, _customers.c.email).order_by(_customers.c.id).limit(BATCH)
        if last is not None:
            page = page.where(_customers.c.id > last)
        rows = connection.execute(page).all()
        if not rows:
            return
        connection.execute(update, [{"row_id": id_, "key": canonical_address(email)} for id_, email in rows])
        last = rows[-1][0]


def _fill_suppressions(connection: sa.Connection) -> None:
    """Every suppression's key; of several rows for one mailbox the earliest stays."""
    kept: dict[str, tuple[Any, str]] = {}  # key -> (created_at, email) of the row that stays
    dropped: list[str] = []
    last: str | None = None
    while True:
        page = (sa.select(_suppressions.c.email, _suppressions.c.created_at)
                .order_by(_suppressions.c.email).limit(BATCH))
        if last is not None:
            page = page.where(_suppressions.c.email > last)
        rows = connection.execute(page).all()
        if not rows:
            break
        for email, created_at in rows:
            key = canonical_address(email)
            earlier = kept.get(key)
            if earlier is None or (created_at, email) < earlier:
                if earlier is not None:
                    dropped.append(earlier[1])
                kept[key] = (created_at, email)
            else:
                dropped.append(email)
        last = rows[-1][0]
    for start in range(0, len(dropped), BATCH):
        connection.execute(sa.delete(_suppressions).where(_suppressions.c.email.in_(dropped[start : start + BATCH])))
    update = (sa.update(_suppressions).where(_suppressions.c.email == sa.bindparam("row_email"))
              .values(address_key=sa.bindparam("key")))
    rows_ = [{"row_email": email, "key": key} for key, (_, email) in kept.items()]
    for start in range(0, len(rows_), BATCH):
        connection.execute(update, rows_[start : start + BATCH])
