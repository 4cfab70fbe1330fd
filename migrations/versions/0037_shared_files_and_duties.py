"""core: files every machine reads (exports, the outbox) in the database; duties claimed once per period

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 13:30:00

An export was written to the worker's instance/exports/ and downloaded from
whichever panel node answered: on two machines, half the downloads found
nothing. Files now live in stored_file (name, kind, for whom) and their
content in stored_file_chunk (1 MB parts, written and streamed one at a
time). duty_claim holds one row per (duty, period) done, so a periodic job
queued by two schedulers, or the daily purge of every RADIUS server, runs
once (app.core.duties). Exports written before this upgrade are dropped
(their files stayed in the old folder, and an export is kept 24 hours
anyway): the operator asks again.
"""
from alembic import op
import sqlalchemy as sa


revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stored_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('dealer_id', sa.Integer(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['ab_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('stored_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_file_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_stored_file_operator_id'), ['operator_id'], unique=False)
    op.create_table('stored_file_chunk',
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['stored_file.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('file_id', 'number')
    )
    op.create_table('duty_claim',
    sa.Column('duty', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('duty', 'period')
    )
    with op.batch_alter_table('duty_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_claim_claimed_at'), ['claimed_at'], unique=False)
    op.execute("DELETE FROM export WHERE status = 'done'")


def downgrade():
    op.drop_table('duty_claim')
    op.drop_table('stored_file_chunk')
    op.drop_table('stored_file')
