"""radius: Simultaneous-Use (sessions allowed per service, or per subscription), the NAS port of a session,
the NAS makes a service's extra parameter is sent to

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 00:10:00

A login beyond the number of sessions allowed is refused unless the open
session is silent (stale) or the same device redials on the same NAS port
(app.radius.simultaneous). On PostgreSQL the RADIUS servers keep each
subscription's open sessions in memory: a session that opens or ends
notifies radius_auth ("sessions:<subscription id>"); an Interim-Update,
which changes neither, notifies nothing.
"""
from alembic import op
import sqlalchemy as sa

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION radius_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.subscription_id IS NOT NULL THEN
    PERFORM pg_notify('radius_auth', 'sessions:' || NEW.subscription_id);
  END IF;
  IF TG_OP <> 'INSERT' AND OLD.subscription_id IS NOT NULL
     AND OLD.subscription_id IS DISTINCT FROM NEW.subscription_id THEN
    PERFORM pg_notify('radius_auth', 'sessions:' || OLD.subscription_id);
  END IF;
  IF TG_OP = 'DELETE' AND OLD.subscription_id IS NOT NULL THEN
    PERFORM pg_notify('radius_auth', 'sessions:' || OLD.subscription_id);
  END IF;
  RETURN NULL;
END
$$;
"""
TRIGGERS = (
    "CREATE TRIGGER radius_sessions_opened AFTER INSERT ON radius_session FOR EACH ROW "
    "WHEN (NEW.stopped_at IS NULL AND NEW.subscription_id IS NOT NULL) EXECUTE FUNCTION radius_sessions_changed()",
    "CREATE TRIGGER radius_sessions_changed AFTER UPDATE OF stopped_at, subscription_id ON radius_session "
    "FOR EACH ROW WHEN (OLD.stopped_at IS DISTINCT FROM NEW.stopped_at "
    "OR OLD.subscription_id IS DISTINCT FROM NEW.subscription_id) EXECUTE FUNCTION radius_sessions_changed()",
    "CREATE TRIGGER radius_sessions_deleted AFTER DELETE ON radius_session FOR EACH ROW "
    "WHEN (OLD.stopped_at IS NULL) EXECUTE FUNCTION radius_sessions_changed()",
)


def upgrade():
    op.add_column('service', sa.Column('simultaneous_use', sa.Integer(), server_default='1', nullable=False))
    op.add_column('service_version', sa.Column('simultaneous_use', sa.Integer(), server_default='1',
                                               autoincrement=False, nullable=True))
    op.add_column('subscription', sa.Column('simultaneous_use', sa.Integer(), nullable=True))
    op.add_column('subscription_version', sa.Column('simultaneous_use', sa.Integer(), autoincrement=False,
                                                    nullable=True))
    op.add_column('radius_session', sa.Column('nas_port', sa.String(length=50), nullable=True))
    op.add_column('service_parameter', sa.Column('nas_makes', sa.String(length=60), nullable=True))
    op.add_column('service_parameter_version', sa.Column('nas_makes', sa.String(length=60), autoincrement=False,
                                                         nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
        for trigger in TRIGGERS:
            op.execute(trigger)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in ("radius_sessions_opened", "radius_sessions_changed", "radius_sessions_deleted"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON radius_session")
        op.execute("DROP FUNCTION IF EXISTS radius_sessions_changed()")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of service_parameter would break the
    # mail_account view that reads it.
    for table, column in (("service_parameter_version", "nas_makes"), ("service_parameter", "nas_makes"),
                          ("radius_session", "nas_port"), ("subscription_version", "simultaneous_use"),
                          ("subscription", "simultaneous_use"), ("service_version", "simultaneous_use"),
                          ("service", "simultaneous_use")):
        op.drop_column(table, column)
