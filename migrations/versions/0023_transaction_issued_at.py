"""the LOG's transactions indexed by their time, for the reports of a past day

The services report as of a day looks up the last transaction issued before
the end of that day (app.reports.services); without the index that is a scan
of every transaction ever written.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 06:00:00

"""
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('transaction') as batch_op:
        batch_op.create_index('ix_transaction_issued_at', ['issued_at'], unique=False)


def downgrade():
    with op.batch_alter_table('transaction') as batch_op:
        batch_op.drop_index('ix_transaction_issued_at')
