"""Planned mail keyed plan by plan (edm.campaigns.keys): `outbox_keying.hashed_through`, the last
occurrence this store already holds mail for, whose keys stay the plain hash they were given.
A downgrade leaves the keys planned since as they are: an older edm planning one of their
occurrences again would not find them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keying = op.create_table(
        "outbox_keying",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hashed_through", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    outbox = sa.table("outbox", sa.column("occurrence", sa.Date()))
    last = op.get_bind().execute(sa.select(sa.func.max(outbox.c.occurrence))).scalar()
    if last is not None:
        op.bulk_insert(keying, [{"id": 1, "hashed_through": last}])


def downgrade() -> None:
    op.drop_table("outbox_keying")
