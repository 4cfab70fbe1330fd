"""payment_allocation: paid_on, its payment's office day, for revenue by service

Existing allocations get their payment's day (payment.paid_on); new ones get it from the column's default
(app.billing.models: _payment_office_days). Indexed with what revenue by service sums and groups by, so a
year's allocations are read from the index without joining each to its payment.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07 16:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0041'
down_revision = '0040'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_allocation') as batch_op:
        batch_op.add_column(sa.Column('paid_on', sa.Date(), nullable=True))
    op.execute("UPDATE payment_allocation SET paid_on = "
               "(SELECT payment.paid_on FROM payment WHERE payment.id = payment_allocation.payment_id)")
    with op.batch_alter_table('payment_allocation') as batch_op:
        batch_op.alter_column('paid_on', existing_type=sa.Date(), nullable=False)
        batch_op.create_index('ix_payment_allocation_paid_on',
                              ['paid_on', 'kind', 'subscription_id', 'charge_id', 'amount_eur'], unique=False)


def downgrade():
    with op.batch_alter_table('payment_allocation') as batch_op:
        batch_op.drop_index('ix_payment_allocation_paid_on')
        batch_op.drop_column('paid_on')
