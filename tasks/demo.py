"""Demo data for the client side: the "Demo Lab" client with a fresh API key (printed; the previous demo
key is revoked each run, so the printed key always works) and a pairwise Python/JavaScript project with
20 code-comparison tasks, 2 of them gold. Idempotent: tasks are keyed by external_id."""

from django.conf import settings
from django.db import transaction

from tasks.demo_data import PAIRS
from tasks.models import Client, ClientAPIKey, Project
from tasks.services.clients import client_api_key_create
from tasks.services.ingest import rows_from_objects, tasks_ingest
from tasks.services.projects import project_create

DEMO_CLIENT = "Demo Lab"
DEMO_KEY_NAME = "demo (recreated by seed_demo)"
PROJECT_NAME = "Code completions: pick the better one"


def _project(client: Client) -> Project:
    project = Project.objects.filter(client=client, name=PROJECT_NAME).first()
    if project:
        return project
    return project_create(
        client=client, name=PROJECT_NAME, task_type="pairwise",
        label_schema={"allow_tie": True, "strength_scale": 3, "require_reason": True},
        instructions="Read the prompt and both completions. Pick the one that is correct; if both are, the one "
                     "that is clearer and more idiomatic. Say why in one or two sentences. Tie only if they are "
                     "equally good.",
        data_use_statement="Demo Lab uses your judgments to train the reward model of a code assistant. Your "
                           "identity is never shared; Demo Lab sees a pseudonym.",
        reward_cents=30, currency="usd", overlap=3, required_qualifications=["python"], lease_seconds=900,
        gold_share=0.1, priority=0,
    )


@transaction.atomic
def seed() -> list[str]:
    client, _ = Client.objects.get_or_create(name=DEMO_CLIENT)
    ClientAPIKey.objects.filter(client=client, name=DEMO_KEY_NAME, revoked=False).update(revoked=True)
    _, key = client_api_key_create(client=client, name=DEMO_KEY_NAME)
    project = _project(client)
    rows = []
    for external_id, language, prompt, a, b, gold in PAIRS:
        row = {"external_id": external_id,
               "data": {"prompt": prompt, "language": language, "response_a": a, "response_b": b}}
        if gold:
            row["gold"] = {"choice": gold, "reason": "The other completion has a bug."}
        rows.append(row)
    report = tasks_ingest(project_id=project.pk, items=rows_from_objects(rows))
    return [
        f"Client API key ({DEMO_CLIENT}): {key}",
        f"  project {project.pk} \"{project.name}\": {project.tasks.count()} tasks "
        f"({report.created} new); try: curl -H 'Authorization: Api-Key {key}' "
        f"{settings.PUBLIC_BASE_URL}/api/v1/projects/{project.pk}/results/",
    ]
