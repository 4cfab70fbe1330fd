"""epay: the EasyPay payment code (IDN) a request was registered for

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 13:10:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN and a separate unique index (no batch copy of the table on SQLite).
    op.add_column('epay_request', sa.Column('idn', sa.String(length=10), nullable=True))
    op.create_index('uq_epay_request_idn', 'epay_request', ['idn'], unique=True)


def downgrade():
    op.drop_index('uq_epay_request_idn', table_name='epay_request')
    op.drop_column('epay_request', 'idn')
