"""ipv6: IPv6 pools (the link's /64s, delegated /56s or /60s) and the prefixes handed to subscriptions; a
service's IPv6; the IPv6 a NAS reports on a session

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07 13:00:00

A pool and its prefixes are stored as ranges of the upper 64 bits of their addresses (app.networks.models:
ipv6_key): every prefix handed out is at most a /64. The pool and slot are unique, and so are a
subscription and the kind of its prefix. On PostgreSQL a change to a subscription's prefixes notifies the
RADIUS servers' login cache (radius_auth, as its IPv4 addresses do).
"""
from alembic import op
import sqlalchemy as sa

revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ipv6_allocation_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('pool_id', sa.Integer(), autoincrement=False, nullable=True),
    sa.Column('slot', sa.BigInteger(), autoincrement=False, nullable=True),
    sa.Column('kind', sa.String(length=10), autoincrement=False, nullable=True),
    sa.Column('prefix', sa.String(length=43), autoincrement=False, nullable=True),
    sa.Column('first_key', sa.BigInteger(), autoincrement=False, nullable=True),
    sa.Column('last_key', sa.BigInteger(), autoincrement=False, nullable=True),
    sa.Column('subscription_id', sa.Integer(), autoincrement=False, nullable=True),
    sa.Column('allocated_at', sa.DateTime(), autoincrement=False, nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('end_transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('operation_type', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', 'transaction_id')
    )
    with op.batch_alter_table('ipv6_allocation_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ipv6_allocation_version_end_transaction_id'), ['end_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_allocation_version_first_key'), ['first_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_allocation_version_operation_type'), ['operation_type'], unique=False)
        batch_op.create_index('ix_ipv6_allocation_version_pk_transaction_id', ['id', sa.literal_column('transaction_id DESC')], unique=False)
        batch_op.create_index('ix_ipv6_allocation_version_pk_validity', ['id', 'transaction_id', 'end_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_allocation_version_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_allocation_version_transaction_id'), ['transaction_id'], unique=False)

    op.create_table('ipv6_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=43), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('assign_length', sa.Integer(), nullable=False),
    sa.Column('first_key', sa.BigInteger(), nullable=False),
    sa.Column('last_key', sa.BigInteger(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.CheckConstraint("(kind = 'link' AND assign_length = 64) OR (kind = 'delegated' AND assign_length IN (56, 60))", name='ck_ipv6_pool_assign_length'),
    sa.CheckConstraint("kind IN ('link', 'delegated')", name='ck_ipv6_pool_kind'),
    sa.CheckConstraint('first_key <= last_key', name='ck_ipv6_pool_range'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('prefix')
    )
    with op.batch_alter_table('ipv6_pool', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ipv6_pool_first_key'), ['first_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_pool_last_key'), ['last_key'], unique=False)

    op.create_table('ipv6_pool_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=100), autoincrement=False, nullable=True),
    sa.Column('prefix', sa.String(length=43), autoincrement=False, nullable=True),
    sa.Column('kind', sa.String(length=10), autoincrement=False, nullable=True),
    sa.Column('assign_length', sa.Integer(), autoincrement=False, nullable=True),
    sa.Column('comment', sa.Text(), autoincrement=False, nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('end_transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('operation_type', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', 'transaction_id')
    )
    with op.batch_alter_table('ipv6_pool_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ipv6_pool_version_end_transaction_id'), ['end_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_pool_version_operation_type'), ['operation_type'], unique=False)
        batch_op.create_index('ix_ipv6_pool_version_pk_transaction_id', ['id', sa.literal_column('transaction_id DESC')], unique=False)
        batch_op.create_index('ix_ipv6_pool_version_pk_validity', ['id', 'transaction_id', 'end_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_pool_version_transaction_id'), ['transaction_id'], unique=False)

    op.create_table('ipv6_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('prefix', sa.String(length=43), nullable=False),
    sa.Column('first_key', sa.BigInteger(), nullable=False),
    sa.Column('last_key', sa.BigInteger(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('allocated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('link', 'delegated')", name='ck_ipv6_allocation_kind'),
    sa.ForeignKeyConstraint(['pool_id'], ['ipv6_pool.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscription.id'], name='fk_ipv6_allocation_subscription', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ipv6_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ipv6_allocation_first_key'), ['first_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_ipv6_allocation_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_index('uq_ipv6_allocation_pool_slot', ['pool_id', 'slot'], unique=True)
        batch_op.create_index('uq_ipv6_allocation_subscription_kind', ['subscription_id', 'kind'], unique=True)

    op.add_column('radius_session', sa.Column('framed_ipv6_prefix', sa.String(length=43), nullable=True))
    op.add_column('radius_session', sa.Column('delegated_ipv6_prefix', sa.String(length=43), nullable=True))
    op.add_column('radius_session', sa.Column('framed_ipv6_address', sa.String(length=39), nullable=True))
    # Plain ADD COLUMN: a batch copy of service would break the mail_account view that reads it (0021).
    op.add_column('service', sa.Column('ipv6', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('service', sa.Column('ipv6_delegated_length', sa.Integer(), nullable=True))
    op.add_column('service_version', sa.Column('ipv6', sa.Boolean(), server_default=sa.false(),
                                               autoincrement=False, nullable=True))
    op.add_column('service_version', sa.Column('ipv6_delegated_length', sa.Integer(), autoincrement=False,
                                               nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # SQLite adds no constraint to a table without copying it; the catalog's service_errors checks it too.
        op.create_check_constraint("ck_service_ipv6_delegated_length", "service",
                                   "ipv6_delegated_length IS NULL OR ipv6_delegated_length IN (56, 60)")
        # The RADIUS servers' login cache reloads a subscription whose prefixes change (0017's function).
        op.execute("CREATE TRIGGER radius_auth_ipv6_allocation AFTER INSERT OR UPDATE OR DELETE ON ipv6_allocation "
                   "FOR EACH ROW EXECUTE FUNCTION radius_auth_changed('subscription', 'subscription_id')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS radius_auth_ipv6_allocation ON ipv6_allocation")
        op.drop_constraint("ck_service_ipv6_delegated_length", "service", type_="check")
    for table, column in (("service_version", "ipv6_delegated_length"), ("service_version", "ipv6"),
                          ("service", "ipv6_delegated_length"), ("service", "ipv6"),
                          ("radius_session", "framed_ipv6_address"), ("radius_session", "delegated_ipv6_prefix"),
                          ("radius_session", "framed_ipv6_prefix")):
        op.drop_column(table, column)
    with op.batch_alter_table('ipv6_allocation', schema=None) as batch_op:
        batch_op.drop_index('uq_ipv6_allocation_subscription_kind')
        batch_op.drop_index('uq_ipv6_allocation_pool_slot')
        batch_op.drop_index(batch_op.f('ix_ipv6_allocation_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_ipv6_allocation_first_key'))

    op.drop_table('ipv6_allocation')
    with op.batch_alter_table('ipv6_pool_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ipv6_pool_version_transaction_id'))
        batch_op.drop_index('ix_ipv6_pool_version_pk_validity')
        batch_op.drop_index('ix_ipv6_pool_version_pk_transaction_id')
        batch_op.drop_index(batch_op.f('ix_ipv6_pool_version_operation_type'))
        batch_op.drop_index(batch_op.f('ix_ipv6_pool_version_end_transaction_id'))

    op.drop_table('ipv6_pool_version')
    with op.batch_alter_table('ipv6_pool', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ipv6_pool_last_key'))
        batch_op.drop_index(batch_op.f('ix_ipv6_pool_first_key'))

    op.drop_table('ipv6_pool')
    with op.batch_alter_table('ipv6_allocation_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ipv6_allocation_version_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_ipv6_allocation_version_subscription_id'))
        batch_op.drop_index('ix_ipv6_allocation_version_pk_validity')
        batch_op.drop_index('ix_ipv6_allocation_version_pk_transaction_id')
        batch_op.drop_index(batch_op.f('ix_ipv6_allocation_version_operation_type'))
        batch_op.drop_index(batch_op.f('ix_ipv6_allocation_version_first_key'))
        batch_op.drop_index(batch_op.f('ix_ipv6_allocation_version_end_transaction_id'))

    op.drop_table('ipv6_allocation_version')
