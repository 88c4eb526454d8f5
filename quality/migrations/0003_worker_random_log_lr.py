from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("quality", "0002_worker_gold_share"),
    ]

    operations = [
        migrations.AddField(
            model_name="workerstanding",
            name="random_log_lr",
            field=models.FloatField(
                blank=True, null=True,
                help_text="The random-answering test's log likelihood ratio (random : honest; "
                          "quality.rules.rule_random) at the last full fit: above 0, the worker's answers so far are "
                          "likelier random than honest. Empty where the schema has no such test or nothing was scored "
                          "yet. Ops only."),
        ),
    ]
