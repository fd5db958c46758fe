"""The outbox's customer index covers what the planner reads of each mail (its moments, state,
campaign and occurrence): it replaces `ix_outbox_customer_sent` (its first two columns) and
`ix_outbox_customer_id` (its first). `ix_outbox_campaign` goes too: `ix_outbox_campaign_occurrence`
starts with the campaign. One index fewer to write for every row planned.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CONTACT_COLUMNS = "customer_id, sent_at, state, created_at, next_attempt_at, campaign, occurrence"


def upgrade() -> None:
    # IF (NOT) EXISTS: a store made by `create_all` with no version (read as 0014 by its columns) is current
    op.execute(f"CREATE INDEX IF NOT EXISTS ix_outbox_contact ON outbox ({CONTACT_COLUMNS})")
    op.execute("DROP INDEX IF EXISTS ix_outbox_customer_sent")
    op.execute("DROP INDEX IF EXISTS ix_outbox_customer_id")
    op.execute("DROP INDEX IF EXISTS ix_outbox_campaign")


def downgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_outbox_campaign ON outbox (campaign)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_outbox_customer_id ON outbox (customer_id)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_outbox_customer_sent ON outbox (customer_id, sent_at)")
    op.execute("DROP INDEX IF EXISTS ix_outbox_contact")
