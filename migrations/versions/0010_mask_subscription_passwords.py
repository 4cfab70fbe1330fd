"""subscription passwords masked in the LOG entries written before they were masked

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00

The LOG now writes "***" for a subscription's password (Subscription.__log_masked__);
entries written earlier carried it in clear. No schema change.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

MASK = "***"
log_entry = sa.table(
    "log_entry",
    sa.column("id", sa.BigInteger),
    sa.column("entity_type", sa.String),
    sa.column("changes", sa.JSON),
)


def upgrade():
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(log_entry.c.id, log_entry.c.changes).where(log_entry.c.entity_type == "Subscription")
    ).all()
    for entry_id, changes in rows:
        if not changes or "password" not in changes:
            continue
        masked = dict(changes)
        masked["password"] = [MASK if value is not None else None for value in changes["password"]]
        connection.execute(log_entry.update().where(log_entry.c.id == entry_id).values(changes=masked))


def downgrade():
    # The clear passwords are not kept anywhere to restore them from the LOG.
    pass
