"""Pay follows evidence (issue 20): the worker_pending ledger account kind, the clearance and pending
reversal transaction kinds, and EarningsClearance (one row per worker). The ledger account CHECK constraint
is replaced, which rebuilds ledgeraccount on SQLite; the append-only guards live on ledgerentry and
ledgertransaction, put back anyway (IF NOT EXISTS, as 0007) in case a SQLite rebuild touched them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

SQLITE_GUARDS = [
    f"CREATE TRIGGER IF NOT EXISTS payments_{table}_no_{op} BEFORE {op.upper()} ON payments_{table} "
    f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;"
    for table in ("ledgerentry", "ledgertransaction") for op in ("update", "delete")
]


def guards_back(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_GUARDS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0004_outbox_request_id'),
        ('payments', '0007_sqlite_ledger_guards_after_rebuild'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='EarningsClearance',
            fields=[
                ('worker', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='earnings_clearance', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('status', models.CharField(choices=[('pending', 'New earnings wait for quality evidence'), ('cleared', 'New earnings are payable at once')], default='pending', max_length=16)),
                ('reason', models.CharField(choices=[('new', 'Not enough checked work yet'), ('evidence', 'Quality evidence passed'), ('doubt', 'Under quality review')], default='new', max_length=16)),
                ('drained_through_entry_id', models.BigIntegerField(default=0)),
                ('cleared_at', models.DateTimeField(blank=True, help_text='When the evidence last cleared the worker.', null=True)),
                ('reviewed_at', models.DateTimeField(blank=True, help_text='The last clearing run for this worker.', null=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='ledgeraccount',
            name='ledger_account_kind_matches_owner',
        ),
        migrations.AlterField(
            model_name='ledgeraccount',
            name='kind',
            field=models.CharField(choices=[('platform_funding', 'Platform funding'), ('worker_payable', 'Owed to the worker (payable)'), ('worker_pending', 'Earned, awaiting clearance'), ('worker_held', 'Held for quality review'), ('payouts_in_transit', 'Reserved for a payout (in transit)'), ('paid_out', 'Paid out to the worker')], max_length=32),
        ),
        migrations.AlterField(
            model_name='ledgertransaction',
            name='kind',
            field=models.CharField(choices=[('judgment_credit', 'Approved judgment'), ('clearance', 'Pending earnings cleared'), ('pending_reversal', 'Pending earnings reversed (quality flag)'), ('hold', 'Held (quality flag)'), ('hold_release', 'Hold released'), ('hold_forfeit', 'Hold forfeited'), ('payout_reserve', 'Reserved for a payout'), ('payout_paid', 'Paid out'), ('payout_release', 'Payout failed, reservation released'), ('payout_reversed', 'Transfer reversed'), ('adjustment', 'Finance adjustment'), ('bonus', 'Finance bonus')], max_length=32),
        ),
        migrations.AddConstraint(
            model_name='ledgeraccount',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'platform_funding'), ('worker__isnull', True)), models.Q(('kind__in', ['worker_pending', 'worker_payable', 'worker_held', 'payouts_in_transit', 'paid_out']), ('worker__isnull', False)), _connector='OR'), name='ledger_account_kind_matches_owner'),
        ),
        migrations.AddConstraint(
            model_name='earningsclearance',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'cleared'])), name='earnings_clearance_status'),
        ),
        migrations.AddConstraint(
            model_name='earningsclearance',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'cleared'), _negated=True), ('reason', 'evidence'), _connector='OR'), name='earnings_clearance_cleared_by_evidence'),
        ),
        migrations.RunPython(guards_back, migrations.RunPython.noop),
    ]
