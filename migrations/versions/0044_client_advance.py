"""client_advance: each client's advance, kept by the database as its allocations and reversals change

The advance is the sum of a client's allocations of kind 'advance' whose payment has no reversal
(app.billing.charges.advances, the one query of it). The debtors' report summed every client's — 300,000
advance allocations anti-joined with the reversals at 3,000,000 payments — on every screen; it now reads
this table. Triggers keep it, in the transaction that changes it, by counting the client's advance again
with that same rule (never by adding differences): an allocation written, changed or deleted (its client's
row, both clients' when it moves), a reversal written or deleted (the clients of its original's advance
allocations). On PostgreSQL the client's row is locked before it is counted, and the count is a statement
of its own (a snapshot taken after the lock): of two transactions changing one client's advance, the second
counts what the first committed. Clients without an advance allocation have no row (the report reads 0).

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-07 22:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0044'
down_revision = '0043'
branch_labels = None
depends_on = None

# The advance of the client `{client}`: the rule of app.billing.charges.advances.
COUNT = ("(SELECT coalesce(sum(a.amount_eur), 0) FROM payment_allocation a WHERE a.client_id = {client} "
         "AND a.kind = 'advance' AND NOT EXISTS (SELECT 1 FROM payment r WHERE r.reversal_of_id = a.payment_id))")

POSTGRES = [
    f"""CREATE FUNCTION client_advance_count(counted integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO client_advance (client_id, advance_eur) VALUES (counted, 0) ON CONFLICT (client_id) DO NOTHING;
    -- Locked first: the count below then sees what a transaction that held the lock committed.
    PERFORM 1 FROM client_advance WHERE client_id = counted FOR UPDATE;
    UPDATE client_advance SET advance_eur = {COUNT.format(client="counted")} WHERE client_id = counted;
END $$""",
    """CREATE FUNCTION client_advance_allocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.kind = 'advance' THEN
        PERFORM client_advance_count(OLD.client_id);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.kind = 'advance'
            AND (TG_OP = 'INSERT' OR OLD.kind <> 'advance' OR OLD.client_id <> NEW.client_id) THEN
        PERFORM client_advance_count(NEW.client_id);
    END IF;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION client_advance_reversal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    counted integer;
BEGIN
    FOR counted IN
        SELECT DISTINCT a.client_id FROM payment_allocation a
        WHERE a.kind = 'advance' AND a.payment_id IN (CASE WHEN TG_OP <> 'DELETE' THEN NEW.reversal_of_id END,
                                                       CASE WHEN TG_OP <> 'INSERT' THEN OLD.reversal_of_id END)
        ORDER BY 1
    LOOP
        PERFORM client_advance_count(counted);
    END LOOP;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER client_advance_allocation_insert AFTER INSERT ON payment_allocation FOR EACH ROW "
    "WHEN (NEW.kind = 'advance') EXECUTE FUNCTION client_advance_allocation()",
    "CREATE TRIGGER client_advance_allocation_update AFTER UPDATE OF kind, client_id, payment_id, amount_eur "
    "ON payment_allocation FOR EACH ROW WHEN (OLD.kind = 'advance' OR NEW.kind = 'advance') "
    "EXECUTE FUNCTION client_advance_allocation()",
    "CREATE TRIGGER client_advance_allocation_delete AFTER DELETE ON payment_allocation FOR EACH ROW "
    "WHEN (OLD.kind = 'advance') EXECUTE FUNCTION client_advance_allocation()",
    "CREATE TRIGGER client_advance_reversal_insert AFTER INSERT ON payment FOR EACH ROW "
    "WHEN (NEW.reversal_of_id IS NOT NULL) EXECUTE FUNCTION client_advance_reversal()",
    "CREATE TRIGGER client_advance_reversal_update AFTER UPDATE OF reversal_of_id ON payment FOR EACH ROW "
    "WHEN (OLD.reversal_of_id IS DISTINCT FROM NEW.reversal_of_id) EXECUTE FUNCTION client_advance_reversal()",
    "CREATE TRIGGER client_advance_reversal_delete AFTER DELETE ON payment FOR EACH ROW "
    "WHEN (OLD.reversal_of_id IS NOT NULL) EXECUTE FUNCTION client_advance_reversal()",
]

# SQLite: one writer at a time, no locking needed; the same count.
RECOUNT = f"UPDATE client_advance SET advance_eur = {COUNT.format(client='client_advance.client_id')} WHERE client_id"
ADD_ROW = "INSERT OR IGNORE INTO client_advance (client_id, advance_eur) VALUES ({client}, 0);"
OF_REVERSED = ("IN (SELECT a.client_id FROM payment_allocation a WHERE a.kind = 'advance' "
               "AND a.payment_id = {payment})")
SQLITE = [
    "CREATE TRIGGER client_advance_allocation_insert AFTER INSERT ON payment_allocation "
    f"WHEN NEW.kind = 'advance' BEGIN {ADD_ROW.format(client='NEW.client_id')} "
    f"{RECOUNT} = NEW.client_id; END",
    "CREATE TRIGGER client_advance_allocation_update AFTER UPDATE OF kind, client_id, payment_id, amount_eur "
    "ON payment_allocation WHEN OLD.kind = 'advance' OR NEW.kind = 'advance' "
    f"BEGIN {ADD_ROW.format(client='NEW.client_id')} {RECOUNT} IN (OLD.client_id, NEW.client_id); END",
    "CREATE TRIGGER client_advance_allocation_delete AFTER DELETE ON payment_allocation "
    f"WHEN OLD.kind = 'advance' BEGIN {RECOUNT} = OLD.client_id; END",
    "CREATE TRIGGER client_advance_reversal_insert AFTER INSERT ON payment WHEN NEW.reversal_of_id IS NOT NULL "
    f"BEGIN {RECOUNT} {OF_REVERSED.format(payment='NEW.reversal_of_id')}; END",
    "CREATE TRIGGER client_advance_reversal_update AFTER UPDATE OF reversal_of_id ON payment "
    "WHEN OLD.reversal_of_id IS NOT NEW.reversal_of_id "
    f"BEGIN {RECOUNT} {OF_REVERSED.format(payment='OLD.reversal_of_id')}; "
    f"{RECOUNT} {OF_REVERSED.format(payment='NEW.reversal_of_id')}; END",
    "CREATE TRIGGER client_advance_reversal_delete AFTER DELETE ON payment WHEN OLD.reversal_of_id IS NOT NULL "
    f"BEGIN {RECOUNT} {OF_REVERSED.format(payment='OLD.reversal_of_id')}; END",
]

TRIGGERS = (("client_advance_allocation_insert", "payment_allocation"),
            ("client_advance_allocation_update", "payment_allocation"),
            ("client_advance_allocation_delete", "payment_allocation"),
            ("client_advance_reversal_insert", "payment"), ("client_advance_reversal_update", "payment"),
            ("client_advance_reversal_delete", "payment"))


def upgrade():
    op.create_table('client_advance',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('advance_eur', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.execute("INSERT INTO client_advance (client_id, advance_eur) "
               "SELECT a.client_id, sum(a.amount_eur) FROM payment_allocation a WHERE a.kind = 'advance' "
               "AND NOT EXISTS (SELECT 1 FROM payment r WHERE r.reversal_of_id = a.payment_id) GROUP BY a.client_id")
    # Clients whose every advance allocation is reversed: a row of 0, as the triggers would leave it.
    op.execute("INSERT INTO client_advance (client_id, advance_eur) SELECT DISTINCT a.client_id, 0 "
               "FROM payment_allocation a WHERE a.kind = 'advance' "
               "AND a.client_id NOT IN (SELECT client_id FROM client_advance)")
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if postgres else f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        for function in ("client_advance_reversal()", "client_advance_allocation()", "client_advance_count(integer)"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_table('client_advance')
