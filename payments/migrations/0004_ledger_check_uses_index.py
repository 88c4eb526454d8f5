"""The balanced-at-commit trigger (0002) checks each inserted entry's transaction. Plans cached while the
entries table was small scanned the whole table for every row at COMMIT (minutes for a 10,000-line payout
batch): always look entries up through the transaction_id index. PostgreSQL only."""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER FUNCTION payments_ledger_check_balanced() SET enable_seqscan = off", params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER FUNCTION payments_ledger_check_balanced() RESET enable_seqscan", params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_payout_line_reversed")]
    operations = [migrations.RunPython(forward, backward)]
