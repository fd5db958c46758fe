"""Classification's copy of the orders as columns (edm.customers.snapshot): `order_snapshot` and its
`order_snapshot_parts`, and `classification_inputs.order_changes` with the SQLite triggers that count
edits and deletions of orders in it (edm.store.changes).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edm.store.changes import ORDER_WATCHED, install_change_triggers, order_trigger_name

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("classification_inputs",
                  sa.Column("order_changes", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "order_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("through", sa.BigInteger(), nullable=False),
        sa.Column("order_changes", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("line_names", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "order_snapshot_parts",
        sa.Column("column", sa.String(length=16), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("column", "part"),
    )
    install_change_triggers(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for _, operation, _, _ in ORDER_WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {order_trigger_name(operation)}")
    op.drop_table("order_snapshot_parts")
    op.drop_table("order_snapshot")
    op.drop_column("classification_inputs", "order_changes")  # SQLite's own DROP COLUMN: the triggers stay
