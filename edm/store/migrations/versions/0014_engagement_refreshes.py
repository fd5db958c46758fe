"""Incremental engagement refresh: a row per refresh (what it had read, the population figures),
and indexes on the profile columns that say whom to recompute (`interval_updated_at` None: new or
asked for less mail; `last_order_at`: whose sunset clock runs out).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "engagement_refreshes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("settings_digest", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=True),
        sa.Column("last_order_id", sa.BigInteger(), nullable=True),
        sa.Column("last_run_id", sa.BigInteger(), nullable=True),
        sa.Column("population_hours", sa.JSON(), nullable=False),
        sa.Column("click_to_open", sa.Double(), nullable=True),
        sa.Column("recomputed", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("shortened", sa.Integer(), nullable=False),
        sa.Column("lengthened", sa.Integer(), nullable=False),
        sa.Column("sunset", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_engagement_refreshes_refreshed_at", "engagement_refreshes", ["refreshed_at"])
    op.create_index("ix_customer_profiles_interval_updated_at", "customer_profiles", ["interval_updated_at"])
    op.create_index("ix_customer_profiles_last_order_at", "customer_profiles", ["last_order_at"])


def downgrade() -> None:
    op.drop_index("ix_customer_profiles_last_order_at", table_name="customer_profiles")
    op.drop_index("ix_customer_profiles_interval_updated_at", table_name="customer_profiles")
    op.drop_index("ix_engagement_refreshes_refreshed_at", table_name="engagement_refreshes")
    op.drop_table("engagement_refreshes")
