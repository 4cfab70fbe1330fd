"""subscriptions: activates_on, the day chosen at the sale for a service without installation

A sale may name the day the service starts (empty: at once). Until then the
subscription awaits, as one awaiting its installation does; the billing
cycle's run for that day (or a later one) activates it.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 00:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN, not a batch: SQLite's batch would copy the table, and the mailbox view (mail_account,
    # 0021) that reads subscription refuses the rename.
    for table in ("subscription", "subscription_version"):
        op.add_column(table, sa.Column('activates_on', sa.Date(), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite has it since 3.35), for the same reason as the upgrade's plain ADD COLUMN.
    for table in ("subscription_version", "subscription"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN activates_on")
