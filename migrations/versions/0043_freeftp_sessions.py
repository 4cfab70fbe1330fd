"""freeftp_session: an account's open FTP sessions, counted across every FTP process

An account's max_sessions was counted in a dict of one FTP process: two
processes behind one address allowed twice as many. Each session now holds
one of its account's slots (1…max_sessions, unique per account) in
freeftp_session, refreshed (seen_at) by its process; rows of a process that
died stop counting after a few beats and are purged (app.freeftp.sessions).
Nothing to carry over: sessions open during the upgrade were counted in
memory and end with the old process.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-07 19:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0043'
down_revision = '0042'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('freeftp_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('server', sa.String(length=200), nullable=False),
    sa.Column('remote_addr', sa.String(length=45), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['freeftp_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'slot', name='uq_freeftp_session_account_slot')
    )
    with op.batch_alter_table('freeftp_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_freeftp_session_server'), ['server'], unique=False)
        batch_op.create_index(batch_op.f('ix_freeftp_session_seen_at'), ['seen_at'], unique=False)


def downgrade():
    op.drop_table('freeftp_session')
