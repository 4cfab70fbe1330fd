"""payments: paid_on, the office's calendar day of paid_at, for the reports

Existing payments get theirs from paid_at in the office's time zone
(BABEL_DEFAULT_TIMEZONE): PostgreSQL converts with its own zone data, SQLite
with the local_day function every connection has (app.extensions).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa
from flask import current_app

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Sofia")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("payment", "payment_version"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('paid_on', sa.Date(), nullable=True))
        office_day = ("local_day(paid_at, :zone)" if sqlite
                      else "CAST(timezone(:zone, timezone('UTC', paid_at)) AS DATE)")
        op.execute(sa.text(f"UPDATE {table} SET paid_on = {office_day} WHERE paid_at IS NOT NULL")
                   .bindparams(zone=zone))
    with op.batch_alter_table('payment') as batch_op:
        batch_op.alter_column('paid_on', existing_type=sa.Date(), nullable=False)
        batch_op.create_index('ix_payment_paid_on', ['paid_on'], unique=False)


def downgrade():
    with op.batch_alter_table('payment') as batch_op:
        batch_op.drop_index('ix_payment_paid_on')
        batch_op.drop_column('paid_on')
    with op.batch_alter_table('payment_version') as batch_op:
        batch_op.drop_column('paid_on')
