"""Gold by side channel, timed (issue 31): how much a gold claim or submit differs in time from a real one of
the same project, at overlap 1 (every real submit completes its task) and 3. A measurement, not a test.

    .venv/bin/python -m bench.gold_side_channel [N]     # N claims and submits per kind and overlap (300)

Per overlap, two twin projects (same tasks: N real and N gold, gold share 0.5, same settings) and a worker
each; the queue's gold draw is forced (gold for one twin, real for the other), everything else is the
queue's own code, through Django's test client in this process (no HTTP). Requests alternate between the
twins in a random order, so load on the machine falls on both kinds alike. Prints, per overlap and request
kind, the medians, their difference (real - gold) and the two-sided Mann-Whitney p. On a throwaway database
on BENCH_DATABASE_URL's server, created and dropped here. The deterministic side (rows, NOTIFYs, statements)
is tests/tasks/test_gold_side_channel*.py.
"""

import random
import statistics
import sys
import time

from bench.throwaway_db import claim_load_database


class Forced:
    value = 1.0

    def random(self):
        return self.value


def _twins(overlap: int, n: int, forced: Forced):
    from rest_framework.test import APIClient

    from tests.conftest import Person, login, make_user
    from tests.tasks.test_queue_factories import make_project, make_tasks
    from tests.workers.factories import complete_profile, qualify

    twins = []
    for kind in ("gold", "real"):
        project = make_project(overlap=overlap, gold_share=0.5)
        project.name = "Twin project"
        project.save(update_fields=["name"])
        make_tasks(project, n + 5)
        make_tasks(project, n + 5, gold=True)
        email = f"{kind}{overlap}@example.com"
        user = make_user(email)
        complete_profile(user)
        qualify(user)
        client = APIClient()
        twins.append((kind, project, Person(user, login(client, email))))
    return twins


def _run(overlap: int, n: int, forced: Forced) -> dict:
    twins = _twins(overlap, n, forced)
    times = {(kind, step): [] for kind in ("gold", "real") for step in ("claim", "submit")}
    order = [twin for _ in range(n + 5) for twin in twins]
    rng = random.Random(overlap)
    for i in range(0, len(order), 2):  # each pair once per round, in a random order
        pair = order[i:i + 2]
        rng.shuffle(pair)
        for kind, project, who in pair:
            forced.value = 0.0 if kind == "gold" else 1.0
            started = time.perf_counter()
            response = who.post("/api/v1/assignments/claim/", {"project": project.pk})
            claimed = time.perf_counter()
            forced.value = 1.0
            assert response.status_code == 201, response.content
            assignment = response.json()["id"]
            response = who.post(f"/api/v1/assignments/{assignment}/submit/", {"answer": {"choice": "a"},
                                                                              "seconds_spent": 12})
            submitted = time.perf_counter()
            assert response.status_code == 200, response.content
            if i >= 10:  # the first 5 rounds warm up (prepared statements, first-use ledger rows)
                times[(kind, "claim")].append((claimed - started) * 1000)
                times[(kind, "submit")].append((submitted - claimed) * 1000)
    from tasks.models import Task

    gold_project, real_project = twins[0][1], twins[1][1]
    assert not Task.objects.filter(project=gold_project, status="complete").exists()
    completes = Task.objects.filter(project=real_project, status="complete").count()
    return {"times": times, "real_completed": completes}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with claim_load_database("gold_side_channel"):
        import django

        django.setup()
        from scipy.stats import mannwhitneyu

        import tasks.services.queue as queue

        forced = Forced()
        queue.random = forced
        print(f"{'overlap':>7} {'request':>7} {'n':>4} {'gold ms':>8} {'real ms':>8} {'real-gold':>9} {'p':>7}")
        for overlap in (1, 3):
            result = _run(overlap, n, forced)
            for step in ("claim", "submit"):
                gold, real = result["times"][("gold", step)], result["times"][("real", step)]
                p = mannwhitneyu(gold, real, alternative="two-sided").pvalue
                gm, rm = statistics.median(gold), statistics.median(real)
                print(f"{overlap:>7} {step:>7} {len(gold):>4} {gm:>8.2f} {rm:>8.2f} {rm - gm:>+9.2f} {p:>7.4f}")
            print(f"        (real tasks completed at overlap {overlap}: {result['real_completed']})")


if __name__ == "__main__":
    main()
