"""A/B winners: each test's decision (the variant the rest got, and the figures it saw).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ab_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("test", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("winner", sa.String(length=32), nullable=False),
        sa.Column("significant", sa.Boolean(), nullable=False),
        sa.Column("p_value", sa.Double(), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("released", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign", "occurrence"),
    )
    op.create_index(op.f("ix_ab_decisions_decided_at"), "ab_decisions", ["decided_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ab_decisions_decided_at"), table_name="ab_decisions")
    op.drop_table("ab_decisions")
