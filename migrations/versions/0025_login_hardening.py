"""login hardening: each operator's second-factor enrolment link, last used one-time code, session generation

An operator enrols a second factor only through a link (e-mailed to them or
issued by an administrator), stored as a hash with its expiry; the last
accepted code's time-step makes each code single-use; the session
generation lets a logout end every copy of a session. A table of its own:
login machinery, not a change of the operator, so not in the LOG.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 06:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'operator_login',
        sa.Column('operator_id', sa.Integer(), nullable=False),
        sa.Column('enrolment_hash', sa.String(length=64), nullable=True),
        sa.Column('enrolment_expires_at', sa.DateTime(), nullable=True),
        sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
        sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['operator_id'], ['ab_user.id'], name='fk_operator_login_operator_id',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('operator_id', name='pk_operator_login'),
        sa.UniqueConstraint('enrolment_hash', name='uq_operator_login_enrolment_hash'),
    )


def downgrade():
    op.drop_table('operator_login')
