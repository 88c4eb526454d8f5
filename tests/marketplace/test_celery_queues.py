"""CELERY_SPLIT_QUEUES: payouts, quality and client webhooks each on a queue of their own; off (the default),
every job on CELERY_QUEUE. The sandbox's jobs (untrusted code) and tasks' execution jobs (which run task tests through it) are on SANDBOX_QUEUE either way. Routed by Celery itself (the app's router), in a fresh process per setting."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, django
django.setup()
from marketplace.celery import app
app.loader.import_default_modules()
print(json.dumps({name: app.amqp.router.route({}, name)["queue"].name
                  for name in sorted(app.tasks) if not name.startswith("celery.")}))
"""


def _routes(**env) -> dict[str, str]:
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.settings", "DEBUG": "1",
                                 "DATABASE_URL": "sqlite:///:memory:", "CELERY_BROKER_URL": "memory://",
                                 "CELERY_QUEUE": "mq", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _expected(name: str) -> str:
    for prefix, queue in (("sandbox.jobs.", "sandbox"), ("tasks.jobs.execution.", "sandbox"), ("payments.jobs.", "mq-payouts"), ("quality.jobs.", "mq-quality"),
                          ("tasks.jobs.clients.", "mq-webhooks")):
        if name.startswith(prefix):
            return queue
    return "mq"


def test_split_queues_route_payouts_quality_and_webhooks_apart():
    routes = _routes(CELERY_SPLIT_QUEUES="1")
    assert {routes[n] for n in routes} == {"mq", "mq-payouts", "mq-quality", "mq-webhooks", "sandbox"}
    assert routes == {name: _expected(name) for name in routes}
    assert routes["tasks.jobs.clients.webhook_deliver"] == "mq-webhooks"
    assert routes["quality.jobs.project_quality_recompute"] == "mq-quality"
    assert routes["tasks.jobs.queue.notify_work_available"] == "mq"


def test_by_default_every_job_is_on_the_one_queue_but_the_sandbox():
    routes = _routes()
    off_main = {name for name, queue in routes.items() if queue != "mq"}
    assert "sandbox.jobs.run_code" in off_main and "tasks.jobs.execution.run_fix" in off_main
    assert off_main == {name for name in routes if name.startswith(("sandbox.jobs.", "tasks.jobs.execution."))}
    assert {routes[name] for name in off_main} == {"sandbox"}
    isolated = _routes(SANDBOX_QUEUE="isolated")
    assert {isolated[name] for name in off_main} == {"isolated"}
