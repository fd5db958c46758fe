"""Survey answers, the satisfaction fields of profiles, and account managers' digest watermarks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PROFILE_COLUMNS = ("satisfaction", "satisfaction_trend", "nps_score", "csat_score", "surveyed_at")


def upgrade() -> None:
    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("satisfaction", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("satisfaction_trend", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("nps_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("csat_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("surveyed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survey", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id", "survey"),
    )
    op.create_index("ix_survey_answers_customer", "survey_answers", ["customer_id", "answered_at"])
    op.create_index(op.f("ix_survey_answers_updated_at"), "survey_answers", ["updated_at"])
    op.create_table(
        "manager_digests",
        sa.Column("manager_email", sa.String(length=320), nullable=False),
        sa.Column("covered_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("manager_email"),
    )


def downgrade() -> None:
    op.drop_table("manager_digests")
    op.drop_index(op.f("ix_survey_answers_updated_at"), table_name="survey_answers")
    op.drop_index("ix_survey_answers_customer", table_name="survey_answers")
    op.drop_table("survey_answers")
    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        for column in reversed(_PROFILE_COLUMNS):
            batch_op.drop_column(column)
