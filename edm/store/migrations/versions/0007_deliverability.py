"""Deliverability: where an event came from (its raw report kept), and sending pauses.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=True))
    op.create_table(
        "sending_pauses",
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("sending_pauses")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("detail")
        batch_op.drop_column("source")
