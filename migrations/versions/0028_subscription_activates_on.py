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
    for table in ("subscription", "subscription_version"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('activates_on', sa.Date(), nullable=True))


def downgrade():
    for table in ("subscription_version", "subscription"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('activates_on')
