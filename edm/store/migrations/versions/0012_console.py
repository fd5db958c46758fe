"""The web console: its users (role, argon2 hash), campaign approvals, and the indexes its pages count by.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("disabled_at", _WHEN, nullable=True),
        sa.Column("signed_out_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "campaign_approvals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=False),
        sa.Column("approved_at", _WHEN, nullable=False),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_campaign_approvals_campaign", "campaign_approvals", ["campaign"])
    # the console's pages count a day's mail and events, and each campaign's latest occurrence
    op.create_index("ix_outbox_sent_at", "outbox", ["sent_at"])
    op.create_index("ix_outbox_campaign_occurrence", "outbox", ["campaign", "occurrence", "state"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_events_occurred_at", table_name="events")
    op.drop_index("ix_outbox_campaign_occurrence", table_name="outbox")
    op.drop_index("ix_outbox_sent_at", table_name="outbox")
    op.drop_index("ix_campaign_approvals_campaign", table_name="campaign_approvals")
    op.drop_table("campaign_approvals")
    op.drop_table("console_users")
