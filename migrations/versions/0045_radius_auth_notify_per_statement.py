"""radius auth notify per statement: the triggers of migration 0017 fire once per statement, not per row

The RADIUS servers' login cache (app.radius.auth.AuthCache) hears of every
change a login depends on through NOTIFY radius_auth ("subscription:<id>",
"service:<id>"). The triggers fired for each row and turned the whole row
into JSONB twice (NEW and OLD) to read one column: the billing cycle's worst
day updates tens of thousands of subscriptions in a handful of statements,
and the server paid that per row. Now each table has three statement
triggers (insert, update, delete) reading the statement's transition tables:
the same notifications (PostgreSQL folds a transaction's identical ones, so
the servers hear the same set), one trigger call per statement.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-07 23:00:00

"""
from alembic import op

revision = '0045'
down_revision = '0044'
branch_labels = None
depends_on = None

# table, what the payload names ("subscription" or "service"), the column holding its id (as in 0017 and 0039)
WATCHED = (
    ("subscription", "subscription", "id"),
    ("ip_allocation", "subscription", "subscription_id"),
    ("ipv6_allocation", "subscription", "subscription_id"),
    ("subscription_freeze", "subscription", "subscription_id"),
    ("service", "service", "id"),
    ("service_parameter", "service", "service_id"),
)
COLUMNS = sorted({column for _table, _kind, column in WATCHED})


def _function(column):
    return f"""
CREATE OR REPLACE FUNCTION radius_auth_rows_changed_{column}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('radius_auth', TG_ARGV[0] || ':' || changed.{column})
       FROM (SELECT DISTINCT {column} FROM new_rows WHERE {column} IS NOT NULL) AS changed;
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM pg_notify('radius_auth', TG_ARGV[0] || ':' || changed.{column})
       FROM (SELECT {column} FROM new_rows WHERE {column} IS NOT NULL
             UNION SELECT {column} FROM old_rows WHERE {column} IS NOT NULL) AS changed;
  ELSE
    PERFORM pg_notify('radius_auth', TG_ARGV[0] || ':' || changed.{column})
       FROM (SELECT DISTINCT {column} FROM old_rows WHERE {column} IS NOT NULL) AS changed;
  END IF;
  RETURN NULL;
END
$$;
"""


TRANSITIONS = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
               "delete": "OLD TABLE AS old_rows"}

ROW_FUNCTION = """
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
    for column in COLUMNS:
        op.execute(_function(column))
    for table, kind, column in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS radius_auth_{table} ON {table}")
        for event, transition in TRANSITIONS.items():
            op.execute(f"CREATE TRIGGER radius_auth_{table}_{event} AFTER {event.upper()} ON {table} "
                       f"REFERENCING {transition} FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION radius_auth_rows_changed_{column}('{kind}')")
    op.execute("DROP FUNCTION IF EXISTS radius_auth_changed()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(ROW_FUNCTION)
    for table, kind, column in WATCHED:
        for event in TRANSITIONS:
            op.execute(f"DROP TRIGGER IF EXISTS radius_auth_{table}_{event} ON {table}")
        op.execute(f"CREATE TRIGGER radius_auth_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION radius_auth_changed('{kind}', '{column}')")
    for column in COLUMNS:
        op.execute(f"DROP FUNCTION IF EXISTS radius_auth_rows_changed_{column}()")
