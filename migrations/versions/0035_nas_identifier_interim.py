"""radius: a NAS known by its address and NAS-Identifier (several NAS behind one address), its own interim interval

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 13:10:00

The address alone was unique; now the address and the NAS-Identifier are,
and at most one NAS of an address has none (the address's NAS, which
takes whatever names no other NAS of it: app.radius.server.NasList.find).
"""
from alembic import op
import sqlalchemy as sa

revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None

# SQLite's unique constraint of 0015 has no name: batch mode names it to drop it.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique():
    return "nas_ip_address_key" if op.get_bind().dialect.name == "postgresql" else "uq_nas_ip_address"


def upgrade():
    with op.batch_alter_table('nas', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(_old_unique(), type_='unique')
        batch_op.add_column(sa.Column('nas_identifier', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('interim_interval', sa.Integer(), nullable=True))
        batch_op.create_check_constraint('ck_nas_interim_interval', "interim_interval BETWEEN 60 AND 86400")
        batch_op.create_index('uq_nas_address_identifier', ['ip_address', 'nas_identifier'], unique=True)
        batch_op.create_index('uq_nas_address', ['ip_address'], unique=True,
                              postgresql_where=sa.text('nas_identifier IS NULL'),
                              sqlite_where=sa.text('nas_identifier IS NULL'))

    with op.batch_alter_table('nas_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nas_identifier', sa.String(length=128), autoincrement=False, nullable=True))
        batch_op.add_column(sa.Column('interim_interval', sa.Integer(), autoincrement=False, nullable=True))


def downgrade():
    with op.batch_alter_table('nas_version', schema=None) as batch_op:
        batch_op.drop_column('interim_interval')
        batch_op.drop_column('nas_identifier')

    # Back to one NAS per address: fails while two NAS share one (the office removes one first).
    with op.batch_alter_table('nas', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_index('uq_nas_address', postgresql_where=sa.text('nas_identifier IS NULL'),
                            sqlite_where=sa.text('nas_identifier IS NULL'))
        batch_op.drop_index('uq_nas_address_identifier')
        batch_op.drop_constraint('ck_nas_interim_interval', type_='check')
        batch_op.drop_column('interim_interval')
        batch_op.drop_column('nas_identifier')
        batch_op.create_unique_constraint(_old_unique(), ['ip_address'])
