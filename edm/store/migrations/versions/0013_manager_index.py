"""An index on each customer's account manager key (the address trimmed, lower-case): a manager's
console pages and digests find their customers by it instead of reading every customer.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: a store made by `create_all` with no version (read as 0012 by its columns) has it
    op.execute("CREATE INDEX IF NOT EXISTS ix_customers_manager_key ON customers "
               "(lower(trim(account_manager_email)))")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_customers_manager_key")
