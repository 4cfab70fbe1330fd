"""epay: ePay.bg's WEB-merchant settings and payment requests; a collector's protocol (ours or ePay.bg billing)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 03:00:00

A payment request keeps our INVOICE number (unique: ePay.bg takes a request
with a given INVOICE once) and the first answer given to ePay.bg's
notification of it, which a repeated notification gets again. The
collectors' new columns are plain ADD COLUMNs (no batch copy of the table).
"""
from alembic import op
import sqlalchemy as sa


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('epay_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kin', sa.String(length=20), nullable=True),
    sa.Column('secret', sa.String(length=128), nullable=True),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('valid_hours', sa.Integer(), nullable=False),
    sa.CheckConstraint("environment IN ('demo', 'production')", name='ck_epay_settings_environment'),
    sa.CheckConstraint('id = 1', name='ck_epay_settings_single_row'),
    sa.CheckConstraint('valid_hours >= 1', name='ck_epay_settings_valid_hours'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('epay_settings_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kin', sa.String(length=20), autoincrement=False, nullable=True),
    sa.Column('secret', sa.String(length=128), autoincrement=False, nullable=True),
    sa.Column('environment', sa.String(length=10), autoincrement=False, nullable=True),
    sa.Column('valid_hours', sa.Integer(), autoincrement=False, nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('end_transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('operation_type', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', 'transaction_id')
    )
    with op.batch_alter_table('epay_settings_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_epay_settings_version_end_transaction_id'), ['end_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_epay_settings_version_operation_type'), ['operation_type'], unique=False)
        batch_op.create_index('ix_epay_settings_version_pk_transaction_id', ['id', sa.literal_column('transaction_id DESC')], unique=False)
        batch_op.create_index('ix_epay_settings_version_pk_validity', ['id', 'transaction_id', 'end_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_epay_settings_version_transaction_id'), ['transaction_id'], unique=False)

    op.create_table('epay_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('started_by', sa.String(length=256), nullable=True),
    sa.Column('pay_time', sa.String(length=14), nullable=True),
    sa.Column('stan', sa.String(length=20), nullable=True),
    sa.Column('bcode', sa.String(length=20), nullable=True),
    sa.Column('notified_at', sa.DateTime(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'paid', 'denied', 'expired')", name='ck_epay_request_status'),
    sa.CheckConstraint('amount > 0', name='ck_epay_request_amount_positive'),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('invoice'),
    sa.UniqueConstraint('payment_id')
    )
    with op.batch_alter_table('epay_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_epay_request_client_id'), ['client_id'], unique=False)

    op.add_column('payment_collector', sa.Column('protocol', sa.String(length=20), server_default='own',
                                                 nullable=False))
    op.add_column('payment_collector', sa.Column('merchant_id', sa.String(length=8), nullable=True))
    op.add_column('payment_collector_version', sa.Column('protocol', sa.String(length=20), server_default='own',
                                                         autoincrement=False, nullable=True))
    op.add_column('payment_collector_version', sa.Column('merchant_id', sa.String(length=8), autoincrement=False,
                                                         nullable=True))


def downgrade():
    for table in ('payment_collector_version', 'payment_collector'):
        op.drop_column(table, 'merchant_id')
        op.drop_column(table, 'protocol')

    with op.batch_alter_table('epay_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_epay_request_client_id'))

    op.drop_table('epay_request')
    with op.batch_alter_table('epay_settings_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_epay_settings_version_transaction_id'))
        batch_op.drop_index('ix_epay_settings_version_pk_validity')
        batch_op.drop_index('ix_epay_settings_version_pk_transaction_id')
        batch_op.drop_index(batch_op.f('ix_epay_settings_version_operation_type'))
        batch_op.drop_index(batch_op.f('ix_epay_settings_version_end_transaction_id'))

    op.drop_table('epay_settings_version')
    op.drop_table('epay_settings')
