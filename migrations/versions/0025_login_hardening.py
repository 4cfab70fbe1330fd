"""login hardening: each operator's last used one-time code, session generation

(An operator enrols a second factor only through a one-time link of
app.core.one_time_links, table one_time_link of 0024.) The last
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
        sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
        sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['operator_id'], ['ab_user.id'], name='fk_operator_login_operator_id',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('operator_id', name='pk_operator_login'),
    )


def downgrade():
    op.drop_table('operator_login')
