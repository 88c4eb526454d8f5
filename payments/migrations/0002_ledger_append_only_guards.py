"""Database-level guards for the ledger (docs/design.md invariant 7), beyond what the services check.

PostgreSQL: UPDATE and DELETE on ledger entries and transactions raise; a deferred constraint trigger
checks at COMMIT that every transaction touched sums to zero and is in one currency. SQLite: UPDATE and
DELETE raise (SQLite has no deferred triggers; the services check the sum before writing).
TRUNCATE (test teardown) is not affected.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION payments_ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER payments_ledgerentry_append_only BEFORE UPDATE OR DELETE ON payments_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION payments_ledger_refuse_change();
CREATE TRIGGER payments_ledgertransaction_append_only BEFORE UPDATE OR DELETE ON payments_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION payments_ledger_refuse_change();

CREATE OR REPLACE FUNCTION payments_ledger_check_balanced() RETURNS trigger AS $$
DECLARE
    total bigint;
    bad_currency integer;
BEGIN
    SELECT COALESCE(SUM(e.amount_cents), 0) INTO total FROM payments_ledgerentry e
        WHERE e.transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % sums to %, not 0', NEW.transaction_id, total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT COUNT(*) INTO bad_currency FROM payments_ledgerentry e
        JOIN payments_ledgeraccount a ON a.id = e.account_id
        JOIN payments_ledgertransaction t ON t.id = e.transaction_id
        WHERE e.transaction_id = NEW.transaction_id AND a.currency <> t.currency;
    IF bad_currency > 0 THEN
        RAISE EXCEPTION 'ledger transaction % mixes currencies', NEW.transaction_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER payments_ledgerentry_balanced AFTER INSERT ON payments_ledgerentry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_ledger_check_balanced();
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS payments_ledgerentry_balanced ON payments_ledgerentry;
DROP TRIGGER IF EXISTS payments_ledgerentry_append_only ON payments_ledgerentry;
DROP TRIGGER IF EXISTS payments_ledgertransaction_append_only ON payments_ledgertransaction;
DROP FUNCTION IF EXISTS payments_ledger_check_balanced();
DROP FUNCTION IF EXISTS payments_ledger_refuse_change();
"""

SQLITE_FORWARD = [
    f"CREATE TRIGGER payments_{table}_no_{op} BEFORE {op.upper()} ON payments_{table} "
    f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;"
    for table in ("ledgerentry", "ledgertransaction") for op in ("update", "delete")
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS payments_{table}_no_{op};"
    for table in ("ledgerentry", "ledgertransaction") for op in ("update", "delete")
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_ledger_connect_payouts")]
    operations = [migrations.RunPython(forward, backward)]
