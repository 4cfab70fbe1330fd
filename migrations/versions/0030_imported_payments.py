"""payments: imported_from, and the inactive payment method "carried over" of money moved in from another system

An opening credit and the old system's payment history come in as payments
that no cashier received today: `imported_from` says which file and row
("внос от <file>, ред N"); they name no operator (so no cash desk counts
them) and issue no receipt or invoice. The method "Пренесено от предишната
система" is inactive: the desk never offers it.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 03:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN, not a batch (see 0028): reports' views read payment.
    for table in ("payment", "payment_version"):
        op.add_column(table, sa.Column('imported_from', sa.String(length=200), nullable=True))
    methods = sa.table("payment_method", sa.column("code"), sa.column("name"), sa.column("active"))
    op.bulk_insert(methods, [{"code": "carried", "name": "Пренесено от предишната система", "active": False}])


def downgrade():
    op.execute("DELETE FROM payment_method WHERE code = 'carried'")
    for table in ("payment_version", "payment"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN imported_from")
