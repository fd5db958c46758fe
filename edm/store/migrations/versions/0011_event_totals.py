"""Retention: raw events past their keeping time, counted per message, day, kind and machine flag.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_totals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outbox_id", _ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("machine", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_event_totals_day", "event_totals", ["day"])
    op.create_index("ix_event_totals_outbox_id", "event_totals", ["outbox_id"])


def downgrade() -> None:
    op.drop_index("ix_event_totals_outbox_id", table_name="event_totals")
    op.drop_index("ix_event_totals_day", table_name="event_totals")
    op.drop_table("event_totals")
