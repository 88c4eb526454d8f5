"""One worker's parallel claims on the embedded database (a SQLite file, the settings `make run` uses):
run by tests/tasks/test_queue_trust.py in a fresh process, prints the live assignments and the refusals.

    python tests/tasks/sqlite_claim_storm.py DIR {live|share}
"""

import json
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(directory: str, cap: str) -> None:
    os.environ.update(DEBUG="1", DATABASE_URL=f"sqlite:///{directory}/storm.sqlite3", VAR_DIR=directory,
                      DJANGO_SETTINGS_MODULE="marketplace.settings", QUEUE_MAX_LIVE_CLAIMS="3" if cap == "live" else "100")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from marketplace.errors import Forbidden
    from tasks.models import Assignment
    from tasks.services.queue import assignment_claim
    from tests.tasks.test_queue_factories import make_project, make_tasks, make_worker

    assert connection.vendor == "sqlite" and connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    call_command("migrate", verbosity=0)
    project = make_project(overlap=3, gold_share=0.3, max_judgments_per_worker=4 if cap == "share" else 10_000)
    make_tasks(project, 40)
    make_tasks(project, 10, gold=True)
    user = make_worker("storm@example.com")
    barrier, outcomes, errors = threading.Barrier(20), [], []

    def claim():
        try:
            barrier.wait()
            outcomes.append("claimed" if assignment_claim(user=user, project_id=project.pk) else "none")
        except Forbidden as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # reported: the test fails on any
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    live = Assignment.objects.filter(worker=user, status="live").count()
    print(json.dumps({"vendor": connection.vendor, "live": live, "outcomes": sorted(outcomes), "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
