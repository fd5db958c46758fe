"""Each customer's own rhythm and what the models expect of them; customers' country.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PROFILE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("expected_interval_days", sa.Double()),
    ("next_order_expected_at", sa.DateTime(timezone=True)),
    ("expected_orders_90d", sa.Double()),
    ("expected_orders_365d", sa.Double()),
    ("predicted_value", sa.Numeric(precision=14, scale=2)),
    ("returned_at", sa.DateTime(timezone=True)),
    ("orders_since_return", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        for name, kind in _PROFILE_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("country")
    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        for name, _ in reversed(_PROFILE_COLUMNS):
            batch_op.drop_column(name)
