"""radius: the open sessions indexed by subscription, for the login's Simultaneous-Use check

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 13:40:00

app.radius.simultaneous.open_sessions reads the open sessions of a batch's
32 subscriptions. Through the index on subscription_id it visited every
session each of them ever had (six months of them, kept by law) to keep the
few not stopped; this partial index holds the open ones only. On a synthetic
table of 1.23 million sessions (30,000 subscriptions, 41 each, one open) a
batch's read took 29–33 ms (median) without it and 15 ms with it, on a
machine at load 14–18.
"""
from alembic import op
import sqlalchemy as sa

revision = '0038'
down_revision = '0037'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('radius_session', schema=None) as batch_op:
        batch_op.create_index('ix_radius_session_open_subscription', ['subscription_id'], unique=False,
                              postgresql_where=sa.text('stopped_at IS NULL'),
                              sqlite_where=sa.text('stopped_at IS NULL'))


def downgrade():
    with op.batch_alter_table('radius_session', schema=None) as batch_op:
        batch_op.drop_index('ix_radius_session_open_subscription', postgresql_where=sa.text('stopped_at IS NULL'),
                            sqlite_where=sa.text('stopped_at IS NULL'))
