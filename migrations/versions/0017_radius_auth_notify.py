"""radius auth notify: PostgreSQL triggers tell RADIUS servers what changed for a login (LISTEN radius_auth)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 15:30:00

A RADIUS server keeps every RADIUS subscription's login data in memory
(app.radius.auth.AuthCache). These triggers notify the channel radius_auth
whenever something a login depends on changes, by whatever path: the
panel, the API, the billing cycle's set-based UPDATEs, a script. SQLite has
no notifications; there the server reads the database for each batch.
"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# table, what the payload names ("subscription" or "service"), the column holding its id
WATCHED = (
    ("subscription", "subscription", "id"),
    ("ip_allocation", "subscription", "subscription_id"),
    ("subscription_freeze", "subscription", "subscription_id"),
    ("service", "service", "id"),
    ("service_parameter", "service", "service_id"),
)

FUNCTION = """
CREATE OR REPLACE FUNCTION radius_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  new_id text;
  old_id text;
BEGIN
  IF TG_OP <> 'DELETE' THEN new_id := to_jsonb(NEW) ->> TG_ARGV[1]; END IF;
  IF TG_OP <> 'INSERT' THEN old_id := to_jsonb(OLD) ->> TG_ARGV[1]; END IF;
  IF new_id IS NOT NULL THEN PERFORM pg_notify('radius_auth', TG_ARGV[0] || ':' || new_id); END IF;
  IF old_id IS NOT NULL AND old_id IS DISTINCT FROM new_id THEN
    PERFORM pg_notify('radius_auth', TG_ARGV[0] || ':' || old_id);
  END IF;
  RETURN NULL;
END
$$;
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table, kind, column in WATCHED:
        op.execute(f"CREATE TRIGGER radius_auth_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION radius_auth_changed('{kind}', '{column}')")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, _kind, _column in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS radius_auth_{table} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS radius_auth_changed()")
