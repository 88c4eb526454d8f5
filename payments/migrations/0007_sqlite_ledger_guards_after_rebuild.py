"""SQLite rebuilds a table to alter a column (0005 altered ledgerentry.account; 0006 adds CHECK constraints, and puts them back itself), and a rebuild drops the
table's triggers: the embedded default lost 0002's append-only guard on ledger entries. Put the guards
back (IF NOT EXISTS: a database migrated before 0005 existed, or a fresh one, ends up the same).
PostgreSQL alters in place and keeps its triggers. Any later migration that rebuilds ledgerentry or
ledgertransaction on SQLite must do the same; tests/payments/test_ledger.py checks it on both databases."""

from django.db import migrations

SQLITE_FORWARD = [
    f"CREATE TRIGGER IF NOT EXISTS payments_{table}_no_{op} BEFORE {op.upper()} ON payments_{table} "
    f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;"
    for table in ("ledgerentry", "ledgertransaction") for op in ("update", "delete")
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("payments", "0006_ledger_adjustment_approval_and_bounds")]
    # Backward: 0002's backward drops the guards; between 0005 and here they are meant to exist anyway.
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
