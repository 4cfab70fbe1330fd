"""one-time links (app.core.one_time_links) in place of FREEFTP's own tokens

One table for every link that works once — FREEFTP's confirmation and
new-password links now, the second factor's enrolment later — so that
"used once, and a newer link replaces the older" is decided in one place.
FREEFTP's unused new-password links are carried over (only the newest of
an account's keeps working); its confirmation links are not: a registration
now waits for its link with the registration inside it, and an account
still unconfirmed confirms its address by a new-password link.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-10 09:00:00

"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'one_time_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('digest'),
    )
    with op.batch_alter_table('one_time_link') as batch_op:
        batch_op.create_index('ix_one_time_link_purpose_subject', ['purpose', 'subject'], unique=False)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.execute(sa.text(
        "INSERT INTO one_time_link (purpose, subject, digest, created_at, expires_at) "
        "SELECT 'freeftp-password', 'freeftp-account:' || CAST(account_id AS VARCHAR(20)), digest, created_at, "
        "expires_at FROM freeftp_token WHERE purpose = 'password' AND used_at IS NULL AND expires_at > :now "
        "ORDER BY id"
    ).bindparams(now=now))
    op.execute(sa.text(
        "UPDATE one_time_link SET revoked_at = :now WHERE id NOT IN "
        "(SELECT MAX(id) FROM one_time_link GROUP BY purpose, subject)"
    ).bindparams(now=now))
    with op.batch_alter_table('freeftp_token') as batch_op:
        batch_op.drop_index('ix_freeftp_token_account_id')
    op.drop_table('freeftp_token')


def downgrade():
    op.create_table(
        'freeftp_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=10), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("purpose IN ('confirm', 'password')", name='ck_freeftp_token_purpose'),
        sa.ForeignKeyConstraint(['account_id'], ['freeftp_account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('digest'),
    )
    with op.batch_alter_table('freeftp_token') as batch_op:
        batch_op.create_index('ix_freeftp_token_account_id', ['account_id'], unique=False)
    with op.batch_alter_table('one_time_link') as batch_op:
        batch_op.drop_index('ix_one_time_link_purpose_subject')
    op.drop_table('one_time_link')
