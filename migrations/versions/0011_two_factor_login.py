"""two-factor login: each operator's authenticator key

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('ab_user', 'ab_user_version'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))


def downgrade():
    for table in ('ab_user_version', 'ab_user'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('totp_secret')
