"""/metrics: who may scrape it, and whether what it says matches the database during a simulated load."""

import random
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.test import Client as DjangoClient
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from marketplace.celery import app as celery_app
from marketplace.jobs import refresh_project_gauges
from payments.models import LedgerAccount
from quality.models import Flag
from tasks.jobs.queue import expire_leases
from tasks.models import Assignment, Judgment, Task
from tests.conftest import make_user
from tests.tasks.test_queue_api import CLAIM, submit
from tests.tasks.test_queue_factories import make_project, make_tasks
from tests.workers.factories import complete_profile, qualify

TOKEN = "metrics-test-token-0123456789"


@pytest.fixture(autouse=True)
def _fresh_rollups():
    """The snapshots live in the cache, which outlives a test's database: start each test without them."""
    from django.core.cache import cache

    from marketplace.observability import gauges

    cache.delete_many([gauges.PROJECT_SNAPSHOT_KEY, gauges.THROUGHPUT_KEY])
    yield
    cache.delete_many([gauges.PROJECT_SNAPSHOT_KEY, gauges.THROUGHPUT_KEY])


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def scrape(client=None) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of one authorised scrape."""
    response = (client or DjangoClient()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_are_not_public(settings):
    client = DjangoClient()
    refused = client.get("/metrics")
    assert refused.status_code == 403 and b"marketplace_" not in refused.content
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    # A token of its own is never "empty matches empty".
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    # An allowed network lets a scraper in without a token; another network does not.
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 403
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200
    assert client.post("/metrics").status_code == 405


def _workers(n):
    from rest_framework.test import APIClient

    from tests.conftest import Person, login

    people = []
    for i in range(n):
        user = make_user(f"load{i}@example.com")
        complete_profile(user, skills=("python",))
        qualify(user, "python")
        people.append(Person(user, login(APIClient(), user.email)))
    return people


@pytest.mark.django_db
def test_scrapes_during_a_simulated_load_match_the_database():
    rng = random.Random(22)
    projects = [make_project(overlap=2), make_project(overlap=1)]
    for project in projects:
        make_tasks(project, 6)
    people = _workers(4)
    before = scrape()
    seen = {"claims": 0, "empty": 0, "submits": 0}
    held = []  # (person, assignment id)
    for step in range(40):
        who = rng.choice(people)
        if held and rng.random() < 0.5:
            person, aid = held.pop(rng.randrange(len(held)))
            response = submit(person, aid, seconds_spent=rng.uniform(5, 50))
            assert response.status_code == 200, response.content
            seen["submits"] += 1
        else:
            response = who.post(CLAIM, {})
            if response.status_code == 201:
                seen["claims"] += 1
                held.append((who, response.json()["id"]))
            elif response.status_code == 204:
                seen["empty"] += 1
            else:
                assert response.status_code == 403, response.content  # too many live claims
        if step % 10 == 9:  # scrapes during the load see the counters so far
            mid = scrape()
            assert value(mid, "marketplace_claims_total") - value(before, "marketplace_claims_total") == seen["claims"]
    # Two leases run out and the beat job returns them.
    expired = [aid for _, aid in held[:2]]
    Assignment.objects.filter(pk__in=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire_leases.apply()
    worker = people[0].user
    Flag.objects.create(worker=worker, project=projects[0], rule="fast", evidence={"median_seconds": 1.0})
    refresh_project_gauges.apply()

    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert seen["claims"] > 0 and seen["submits"] > 0
    assert delta("marketplace_claims_total") == seen["claims"] == Assignment.objects.count()
    assert delta("marketplace_submits_total") == seen["submits"] == Judgment.objects.count()
    assert delta("marketplace_claims_empty_total") == seen["empty"]
    assert delta("marketplace_lease_expiries_total") == len(expired) == Assignment.objects.filter(
        status="expired").count()
    assert delta("marketplace_claim_seconds_count", outcome="201") == seen["claims"]
    assert delta("marketplace_submit_seconds_count", outcome="200") == seen["submits"]
    for project in projects:
        for state in ("open", "complete"):
            assert value(after, "marketplace_project_tasks", project=str(project.pk), project_name=project.name,
                         state=state) == Task.objects.filter(project=project, status=state).count()
        assert value(after, "marketplace_project_tasks", project=str(project.pk), project_name=project.name,
                     state="live") == Assignment.objects.filter(project=project, status="live").count()
    assert value(after, "marketplace_open_flags", rule="fast") == 1
    for state, kind in (("payable", "worker_payable"), ("pending", "worker_held"), ("paid", "paid_out"),
                        ("awaiting_clearance", "worker_pending")):
        expected = LedgerAccount.objects.filter(kind=kind, currency="usd").aggregate(s=Sum("balance_cents"))["s"]
        assert value(after, "marketplace_ledger_cents", state=state, currency="usd") == (expected or 0)
    assert value(after, "marketplace_ledger_cents", state="awaiting_clearance", currency="usd") > 0  # new workers
    assert 0 <= value(after, "marketplace_project_tasks_snapshot_age_seconds") < 60
    # django-prometheus's request metrics are there too.
    assert any(name.startswith("django_http_requests") for name, _ in after)


@celery_app.task(name="tests.observability.always_fails")
def _always_fails():
    raise RuntimeError("boom")


@celery_app.task(bind=True, name="tests.observability.retries_once", max_retries=1)
def _retries_once(self):
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "ok"


@pytest.mark.django_db
def test_celery_failures_and_retries_are_counted():
    before = scrape()
    _always_fails.apply()
    _retries_once.apply()
    after = scrape()
    job = "tests.observability.always_fails"
    assert value(after, "marketplace_celery_job_failures_total", job=job) - value(
        before, "marketplace_celery_job_failures_total", job=job) == 1
    job = "tests.observability.retries_once"
    assert value(after, "marketplace_celery_job_retries_total", job=job) - value(
        before, "marketplace_celery_job_retries_total", job=job) == 1


@pytest.mark.django_db
def test_webhook_delivery_outcomes_are_counted():
    from tasks.jobs.clients import webhook_deliver

    before = scrape()
    assert webhook_deliver.apply(args=(987654321,)).get() == "skipped"  # no such pending delivery
    after = scrape()
    assert value(after, "marketplace_webhook_deliveries_total", outcome="skipped") - value(
        before, "marketplace_webhook_deliveries_total", outcome="skipped") == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_load_with_scrapes_in_between_adds_up():
    """Four workers claim and submit from real threads (PostgreSQL, SKIP LOCKED) while a scraper reads
    /metrics; at the end the counters' growth equals the rows the load wrote."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    project = make_project(overlap=2)
    make_tasks(project, 30)
    people = _workers(4)
    before = scrape()
    seen = {"claims": 0, "empty": 0, "submits": 0}
    lock = threading.Lock()
    errors = []

    def work(person):
        from django.db import connections

        try:
            for _ in range(12):
                response = person.post(CLAIM, {})
                if response.status_code == 204:
                    with lock:
                        seen["empty"] += 1
                    continue
                assert response.status_code == 201, response.content
                with lock:
                    seen["claims"] += 1
                assert submit(person, response.json()["id"]).status_code == 200
                with lock:
                    seen["submits"] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for t in threads:
        t.start()
    scrapes = 0
    while any(t.is_alive() for t in threads):
        scrape()
        scrapes += 1
    for t in threads:
        t.join()
    assert not errors, errors
    after = scrape()
    assert scrapes >= 1 and seen["claims"] == 48 - seen["empty"]
    assert value(after, "marketplace_claims_total") - value(before, "marketplace_claims_total") == seen["claims"] \
        == Assignment.objects.count()
    assert value(after, "marketplace_submits_total") - value(before, "marketplace_submits_total") \
        == Judgment.objects.count() == seen["submits"]
    assert value(after, "marketplace_claims_empty_total") - value(before, "marketplace_claims_empty_total") \
        == seen["empty"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_apart_from_the_web_serves_its_own_job_counters(tmp_path):
    """A Celery worker in its own container cannot share the web's metrics folder: with CELERY_METRICS_PORT
    it serves its pool's counters itself, added up across the pool's processes."""
    import socket
    import urllib.request

    from django.db import connection

    from tests import settings as test_settings
    from tests.conftest import CeleryWorker, _purge_test_queue, wait_until

    if not (test_settings.HAS_REDIS and test_settings.HAS_POSTGRES):
        pytest.skip("a real Celery worker needs Redis and PostgreSQL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path / "prometheus-worker"
    folder.mkdir()
    (folder / "counter_4000000.db").write_bytes(b"stale")  # an earlier run's leftovers: removed at start
    _purge_test_queue()
    worker = CeleryWorker(tmp_path, connection.settings_dict["NAME"], concurrency=2, with_relay=False, env={
        "CELERY_METRICS_PORT": str(port), "CELERY_METRICS_ADDR": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(folder)}).start()
    try:
        def scrape():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    return response.read().decode()
            except OSError:
                return None

        wait_until(scrape, timeout=30, message="the worker's metrics endpoint")
        for _ in range(3):  # a job that raises in the worker (wrong arguments): three failures
            celery_app.send_task("marketplace.jobs.heartbeat", args=[1, 2, 3, 4])
        line = 'marketplace_celery_job_failures_total{job="marketplace.jobs.heartbeat"} 3.0'
        wait_until(lambda: line in (scrape() or ""), timeout=30, message="three failures on the worker's metrics")
        assert not (folder / "counter_4000000.db").exists()
    finally:
        worker.stop()
