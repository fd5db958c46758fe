"""What a classification read, so a recompute with nothing changed can keep the profiles as they are:
`classification_runs.inputs` (and its `counts`, for the summary), and on SQLite the `classification_inputs` counter with its triggers
(edm.store.changes).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edm.store.changes import WATCHED, install_change_triggers, trigger_name

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("classification_runs", sa.Column("inputs", sa.String(length=200), nullable=True))
    op.add_column("classification_runs", sa.Column("counts", sa.JSON(), nullable=True))
    op.create_table(
        "classification_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    install_change_triggers(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, operation, _, _ in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table, operation)}")
    op.drop_table("classification_inputs")
    with op.batch_alter_table("classification_runs") as batch_op:
        batch_op.drop_column("counts")
        batch_op.drop_column("inputs")
