"""Tags, custom attributes and account managers; pause and frequency preferences; machine events;
engagement score, sunset and reading hour; the outbox index reports attribute orders with.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ATTRIBUTES = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engagement_score", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("sunset", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("best_hour", sa.Integer(), nullable=True))

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attributes", ATTRIBUTES, nullable=True))
        batch_op.add_column(sa.Column("account_manager", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("account_manager_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("frequency_preference", sa.String(length=16), nullable=True))

    with op.batch_alter_table("events", schema=None) as batch_op:
        # events recorded before there was a flag were all counted as people's
        batch_op.add_column(sa.Column("machine", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_customer_sent", ["customer_id", "sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_customer_sent")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("machine")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        for column in ("frequency_preference", "paused_until", "account_manager_email", "account_manager",
                       "attributes", "tags"):
            batch_op.drop_column(column)

    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        for column in ("best_hour", "sunset", "engagement_score"):
            batch_op.drop_column(column)
