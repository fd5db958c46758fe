"""Consent and personal-information rights: each mailbox's consent and its history, web sign-ups
awaiting confirmation, erased mailboxes (a keyed hash only), the audit log, and each customer's
topics and personalisation choice.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def _consent_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("wording_version", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("recorded_at", _WHEN, nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topics_off", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("personalised", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        "consents",
        sa.Column("address_key", sa.String(length=512), nullable=False),
        *_consent_columns(),
        sa.PrimaryKeyConstraint("address_key"),
    )
    op.create_table(
        "consent_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("address_key", sa.String(length=512), nullable=False),
        *_consent_columns(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_history_address_key", "consent_history", ["address_key"])
    op.create_index("ix_consent_history_recorded_at", "consent_history", ["recorded_at"])
    op.create_table(
        "signups",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address_key", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("topics", sa.Text(), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=False),
        sa.Column("wording_version", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("mailed_at", _WHEN, nullable=True),
        sa.Column("confirmed_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signups_address_key", "signups", ["address_key"])
    op.create_index("ix_signups_created_at", "signups", ["created_at"])
    op.create_table(
        "forgotten_addresses",
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("address_hash"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("occurred_at", _WHEN, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_occurred_at", "audit_log", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_occurred_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("forgotten_addresses")
    op.drop_index("ix_signups_created_at", table_name="signups")
    op.drop_index("ix_signups_address_key", table_name="signups")
    op.drop_table("signups")
    op.drop_index("ix_consent_history_recorded_at", table_name="consent_history")
    op.drop_index("ix_consent_history_address_key", table_name="consent_history")
    op.drop_table("consent_history")
    op.drop_table("consents")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("personalised")
        batch_op.drop_column("topics_off")
