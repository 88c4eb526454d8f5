"""Gold by side channel, timed (issue 31): how much a gold claim or submit differs in time from a real one of
the same project, at overlap 1 (every real submit completes its task) and 3. A measurement, not a test.

    .venv/bin/python -m bench.gold_side_channel [N]     # N claims and submits per kind and overlap (300)

Per overlap, one project (gold share 0.5) and one worker, as a worker timing its own requests sees it:
each round one gold and one real claim (then its submit), in a random order; the queue's gold draw is
forced to the kind due, everything else is the queue's own code, through Django's test client in this
process (no HTTP). Both kinds thus share the worker's history and the machine's load. Prints, per overlap and request
kind, the medians, their difference (real - gold) and the two-sided Mann-Whitney p. On a throwaway database
on BENCH_DATABASE_URL's server, created and dropped here. The deterministic side (rows, NOTIFYs, statements)
is tests/tasks/test_gold_side_channel*.py.
"""

import random
import statistics
import sys
import threading
import time

from bench.throwaway_db import claim_load_database


class Forced:
    value = 1.0

    def random(self):
        return self.value


def _world(overlap: int, n: int):
    from rest_framework.test import APIClient

    from tests.conftest import Person, login, make_user
    from tests.tasks.test_queue_factories import make_project, make_tasks
    from tests.workers.factories import complete_profile, qualify

    project = make_project(overlap=overlap, gold_share=0.5)
    # Every claim uses up one real task (a gold check passes over the one it stands in for), gold or not.
    make_tasks(project, 2 * n + 20)
    make_tasks(project, n + 20, gold=True)
    email = f"worker{overlap}@example.com"
    user = make_user(email)
    complete_profile(user)
    qualify(user)
    return project, Person(user, login(APIClient(), email))


def _run(overlap: int, n: int, forced: Forced) -> dict:
    from tasks.models import Assignment, Task

    project, who = _world(overlap, n)
    times = {(kind, step): [] for kind in ("gold", "real") for step in ("claim", "submit")}
    rng = random.Random(overlap)
    for round_ in range(n + 5):
        pair = ["gold", "real"]
        rng.shuffle(pair)  # each kind once per round, in a random order: the machine's load falls on both alike
        for drawn in pair:
            forced.value = 0.0 if drawn == "gold" else 1.0
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
            kind = "gold" if Assignment.objects.get(pk=assignment).task.is_gold else "real"
            assert kind == drawn
            if round_ >= 5:  # the first 5 rounds warm up (prepared statements, first-use ledger rows)
                times[(kind, "claim")].append((claimed - started) * 1000)
                times[(kind, "submit")].append((submitted - claimed) * 1000)
    completes = Task.objects.filter(project=project, status="complete").count()
    assert not Task.objects.filter(project=project, status="complete", is_gold=True).exists()
    return {"times": times, "real_completed": completes}


def _listen(stop: threading.Event) -> None:
    """What the outbox relay does with the submits' NOTIFYs: LISTEN and take them (a NOTIFY nobody listens
    to costs its sender less than one a relay listens to). Does not publish: the rows stay in the outbox."""
    import psycopg
    from django.db import connection

    from marketplace.outbox import CHANNEL

    params = connection.get_connection_params()
    for key in ("cursor_factory", "server_side_binding", "prepare_threshold", "context"):
        params.pop(key, None)
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        while not stop.is_set():
            for _ in conn.notifies(timeout=0.5, stop_after=1000):
                pass


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with claim_load_database("gold_side_channel"):
        import django

        django.setup()
        from scipy.stats import mannwhitneyu

        import tasks.services.queue as queue

        forced = Forced()
        queue.random = forced
        stop = threading.Event()
        listener = threading.Thread(target=_listen, args=(stop,), daemon=True)
        listener.start()
        print(f"{'overlap':>7} {'request':>7} {'n':>4} {'gold ms':>8} {'real ms':>8} {'real-gold':>9} {'p':>7}")
        for overlap in (1, 3):
            result = _run(overlap, n, forced)
            for step in ("claim", "submit"):
                gold, real = result["times"][("gold", step)], result["times"][("real", step)]
                p = mannwhitneyu(gold, real, alternative="two-sided").pvalue
                gm, rm = statistics.median(gold), statistics.median(real)
                print(f"{overlap:>7} {step:>7} {len(gold):>4} {gm:>8.2f} {rm:>8.2f} {rm - gm:>+9.2f} {p:>7.4f}")
            print(f"        (real tasks completed at overlap {overlap}: {result['real_completed']})")
        stop.set()
        listener.join()


if __name__ == "__main__":
    main()
