"""radius_session: the open sessions indexed by address (who holds an address now: the portal's walled garden)

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 13:10:00

The portal opened from a walled-garden address finds the subscriber by the open session holding that address;
every page a captive browser asks comes there, so the lookup reads an index of the open sessions only.
"""
from alembic import op
import sqlalchemy as sa

revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_radius_session_open_ip', 'radius_session', ['framed_ip'], unique=False,
                    postgresql_where=sa.text('stopped_at IS NULL'), sqlite_where=sa.text('stopped_at IS NULL'))


def downgrade():
    op.drop_index('ix_radius_session_open_ip', table_name='radius_session')
