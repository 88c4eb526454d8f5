"""The queue over HTTP: claim, submit, release, list; who may claim what; what a worker never sees."""

import random
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tasks.models import Assignment, Judgment, Task, WorkNotification
from tasks.services.queue import assignment_claim, served_reason
from tests.conftest import make_user
from tests.tasks.test_queue_factories import consistent, make_project, make_tasks
from tests.workers.factories import complete_profile, qualify
from workers.models import Pool, PoolMembership, WorkerProfile

CLAIM = "/api/v1/assignments/claim/"


def submit(who, assignment_id, answer=None, **extra):
    return who.post(f"/api/v1/assignments/{assignment_id}/submit/", {"answer": answer or {"choice": "a"}, **extra})


@pytest.fixture
def worker(person):
    """Factory: a signed-in worker who may claim python work."""

    def make(email="w@example.com", skills=("python",)):
        who = person(email)
        complete_profile(who.user, skills=skills)
        for slug in skills:
            qualify(who.user, slug)
        return who

    return make


@pytest.mark.django_db
def test_claim_submit_completes_task_and_shows_only_what_a_worker_may_see(worker):
    project = make_project(overlap=2)
    (task,) = make_tasks(project, 1)
    alice, bob = worker("alice@example.com"), worker("bob@example.com")

    claimed = alice.post(CLAIM, {"project": project.pk})
    assert claimed.status_code == 201, claimed.content
    body = claimed.json()
    assert set(body) == {"id", "task", "project", "expires_at", "reason"}
    assert body["task"] == {"id": task.pk, "data": task.data}
    assert body["project"]["data_use_statement"] == "Used to train a code model."
    assert set(body["project"]) == {"id", "name", "task_type", "label_schema", "instructions",
                                    "data_use_statement", "reward_cents", "currency"}
    assert body["reason"] == "oldest open task"

    second = bob.post(CLAIM, {})
    assert second.status_code == 201
    assert second.json()["reason"] == "closest to completion: 1/2 judgments"
    assert bob.post(CLAIM, {}).status_code == 204  # the only task is taken by both slots

    done = submit(alice, body["id"], {"choice": "b", "reason": "  handles None  "}, seconds_spent=12.5)
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "submitted"
    assert done.json()["judgment"]["answer"] == {"choice": "b", "reason": "handles None"}
    task.refresh_from_db()
    assert (task.status, task.n_active, task.n_submitted) == ("open", 2, 1)

    assert submit(bob, second.json()["id"]).status_code == 200
    task.refresh_from_db()
    assert (task.status, task.n_submitted) == ("complete", 2)
    assert Judgment.objects.filter(task=task, status="approved").count() == 2

    listed = alice.get("/api/v1/assignments/?status=submitted").json()["results"]
    assert [a["id"] for a in listed] == [body["id"]]
    assert "gold" not in str(listed) and listed[0]["judgment"]["answer"]["choice"] == "b"
    assert consistent() == []


@pytest.mark.django_db
def test_submit_answers_what_was_committed_in_few_statements(worker, django_assert_max_num_queries):
    """The submit renders the assignment from what it wrote (no read-back): the answer equals what a later
    read returns. Its statements are bounded, so the hot path does not quietly grow (authentication 2,
    the assignment 1, the transaction with judgment, counters and the ledger credit <= 9, the worker's
    clearance row read FOR SHARE (pay follows evidence: payable or pending) 1, and, when the submit completes
    the task, one INSERT of its jobs into the outbox: 14 at most)."""
    project = make_project(overlap=1)
    make_tasks(project, 2)
    alice = worker("alice@example.com")
    first = alice.post(CLAIM, {"project": project.pk}).json()
    assert submit(alice, first["id"]).status_code == 200  # creates the ledger accounts (first credit only)
    claimed = alice.post(CLAIM, {"project": project.pk}).json()
    with django_assert_max_num_queries(14) as captured:
        done = submit(alice, claimed["id"], {"choice": "b"}, seconds_spent=7)
    assert done.status_code == 200, done.content
    outbox = [q["sql"] for q in captured.captured_queries if "marketplace_outboxevent" in q["sql"]]
    assert len(outbox) == 1 and outbox[0].lstrip().upper().startswith(("WITH", "INSERT")), outbox
    listed = alice.get("/api/v1/assignments/?status=submitted").json()["results"]
    assert listed[0] == done.json()
    from payments.models import LedgerAccount

    # A new worker's credits wait for their work to be checked (pay follows evidence, docs/payments.md).
    pending = LedgerAccount.objects.get(kind="worker_pending", worker=alice.user)
    assert pending.balance_cents == 2 * project.reward_cents > 0


@pytest.mark.django_db
def test_a_claim_is_five_statements(worker):
    """The claim's hot path stays small: authentication 2, the worker's row lock (it makes the caps exact
    under one worker's parallel claims: the caps must be read by a statement that starts after the lock is
    held, so it cannot share the next one), the worker's eligibility, live claims, stale leases and
    claimable projects in one statement, and the claim itself in one (PostgreSQL; the portable path on
    SQLite takes a few more inside its transaction). Savepoints are not counted: the test's own
    transaction makes the claim's portable path take one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project = make_project(overlap=2)
    make_tasks(project, 3)
    alice = worker("alice@example.com")
    assert alice.post(CLAIM, {"project": project.pk}).status_code == 201  # first request: warm-up
    with CaptureQueriesContext(connection) as queries:
        claimed = alice.post(CLAIM, {"project": project.pk})
    assert claimed.status_code == 201, claimed.content
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) <= (5 if connection.vendor == "postgresql" else 8), statements


@pytest.mark.django_db
def test_submit_validates_answer_and_refuses_twice(worker):
    project = make_project(overlap=1)
    make_tasks(project, 1)
    alice = worker()
    aid = alice.post(CLAIM, {}).json()["id"]

    bad = submit(alice, aid, {"choice": "c"})
    assert bad.status_code == 400
    assert "answer.choice" in bad.json()["error"]["fields"]
    assert Assignment.objects.get(pk=aid).status == "live" and not Judgment.objects.exists()
    assert alice.post(f"/api/v1/assignments/{aid}/submit/", {"answer": {"choice": "a"}, "seconds_spent": -1}
                      ).status_code == 400
    first = submit(alice, aid)
    assert first.status_code == 200
    other = submit(alice, aid, {"choice": "b"})  # a committed answer cannot be changed by sending another
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_submitted"
    assert other.json()["error"]["assignment"] == aid and other.json()["error"]["status"] == "submitted"
    assert Judgment.objects.count() == 1


@pytest.mark.django_db
def test_a_flags_answer_with_none_beside_a_problem_is_a_400_naming_the_field(worker):
    """Issue 30: "none" (no problem) ticked together with a bug is refused by the service, for the API and
    the web app alike; nothing is stored and the lease stays live for a corrected answer."""
    project = make_project(overlap=1, task_type="flags")
    project.label_schema = {"taxonomy": ["off_by_one", "style", "none"]}
    project.save(update_fields=["label_schema"])
    make_tasks(project, 1)
    alice = worker()
    aid = alice.post(CLAIM, {}).json()["id"]
    bad = submit(alice, aid, {"flags": ["off_by_one", "none"]})
    assert bad.status_code == 400, bad.content
    assert "answer.flags" in bad.json()["error"]["fields"]
    assert Assignment.objects.get(pk=aid).status == "live" and not Judgment.objects.exists()
    assert submit(alice, aid, {"flags": ["none"]}).status_code == 200


@pytest.mark.django_db
def test_a_repeated_submit_gets_the_first_answer_again(worker, person):
    """A retry after a lost response (same assignment, same answer) is answered like the first submit,
    not 409; it writes nothing and credits nothing twice. Another worker repeating it is still 404."""
    from payments.models import LedgerAccount

    project = make_project(overlap=1)
    make_tasks(project, 1)
    alice = worker()
    aid = alice.post(CLAIM, {}).json()["id"]
    first = submit(alice, aid, {"choice": "b"}, seconds_spent=4)
    assert first.status_code == 200, first.content
    again = submit(alice, aid, {"choice": "b"}, seconds_spent=9)
    assert again.status_code == 200 and again.json() == first.json()
    assert Judgment.objects.count() == 1
    assert LedgerAccount.objects.get(kind="worker_pending", worker=alice.user).balance_cents == project.reward_cents
    mallory = worker("mallory@example.com")
    assert submit(mallory, aid, {"choice": "b"}).status_code == 404


@pytest.mark.django_db
def test_another_workers_assignment_is_not_found(worker):
    project = make_project()
    make_tasks(project, 1)
    alice, mallory = worker("alice@example.com"), worker("mallory@example.com")
    aid = alice.post(CLAIM, {}).json()["id"]

    assert submit(mallory, aid).status_code == 404
    assert mallory.post(f"/api/v1/assignments/{aid}/release/").status_code == 404
    assert mallory.get("/api/v1/assignments/").json()["results"] == []
    assert Assignment.objects.get(pk=aid).status == "live" and not Judgment.objects.exists()


@pytest.mark.django_db
def test_release_returns_slot_at_once_and_task_is_not_served_again(worker):
    project = make_project(overlap=1)
    (task,) = make_tasks(project, 1)
    alice, bob = worker("alice@example.com"), worker("bob@example.com")
    aid = alice.post(CLAIM, {}).json()["id"]
    assert bob.post(CLAIM, {}).status_code == 204

    released = alice.post(f"/api/v1/assignments/{aid}/release/")
    assert released.status_code == 200 and released.json()["status"] == "released"
    task.refresh_from_db()
    assert task.n_active == 0
    assert alice.post(f"/api/v1/assignments/{aid}/release/").status_code == 409
    assert alice.post(CLAIM, {}).status_code == 204  # released counts as touched
    assert bob.post(CLAIM, {}).status_code == 201
    assert consistent() == []


@pytest.mark.django_db
def test_expired_lease_never_blocks_a_claim_and_late_submit_is_409(worker):
    project = make_project(overlap=1)
    (task,) = make_tasks(project, 1)
    alice, bob = worker("alice@example.com"), worker("bob@example.com")
    aid = alice.post(CLAIM, {}).json()["id"]
    Assignment.objects.filter(pk=aid).update(expires_at=timezone.now() - timedelta(seconds=1))

    late = submit(alice, aid)
    assert late.status_code == 409 and late.json()["error"]["code"] == "lease_expired"
    assert late.json()["error"]["assignment"] == aid and late.json()["error"]["expired_at"]
    claimed = bob.post(CLAIM, {})  # no beat job ran: the claim itself returned the slot
    assert claimed.status_code == 201 and claimed.json()["task"]["id"] == task.pk
    assert Assignment.objects.get(pk=aid).status == "expired"
    assert submit(alice, aid).json()["error"]["code"] == "lease_expired"
    assert submit(bob, claimed.json()["id"]).status_code == 200
    assert consistent() == []


@pytest.mark.django_db
def test_who_may_claim(worker, person):
    python = make_project(skills=("python",))
    make_tasks(python, 3)
    js_only = make_project(skills=("javascript",))
    make_tasks(js_only, 3)
    pool = Pool.objects.create(name="trusted")
    pooled = make_project(skills=(), pool=pool)
    make_tasks(pooled, 3)
    paused = make_project(status="paused")
    make_tasks(paused, 3)

    fresh = person("fresh@example.com")
    r = fresh.post(CLAIM, {})
    assert r.status_code == 403 and r.json()["error"]["code"] == "onboarding_incomplete"

    unqualified = person("unq@example.com")
    complete_profile(unqualified.user)
    assert unqualified.post(CLAIM, {}).json()["error"]["code"] == "not_qualified"

    alice = worker("alice@example.com")
    r = alice.post(CLAIM, {"project": js_only.pk})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_qualified"
    assert alice.post(CLAIM, {"project": pooled.pk}).json()["error"]["code"] == "not_qualified"
    assert alice.post(CLAIM, {"project": paused.pk}).status_code == 204
    assert alice.post(CLAIM, {"project": 999999}).status_code == 404
    assert alice.post(CLAIM, {"project": "x"}).status_code == 400
    served = {alice.post(CLAIM, {}).json()["project"]["id"] for _ in range(3)}
    assert served == {python.pk}

    membership = PoolMembership.objects.create(pool=pool, worker=alice.user)
    Assignment.objects.filter(worker=alice.user).update(status="released")  # under the live cap again
    assert alice.post(CLAIM, {"project": pooled.pk}).status_code == 201
    membership.status = "suspended"
    membership.save()
    assert alice.post(CLAIM, {"project": pooled.pk}).json()["error"]["code"] == "not_qualified"

    qualify(alice.user, "python", expires_in_days=-1)  # expired qualification
    r = alice.post(CLAIM, {"project": python.pk})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_qualified"

    WorkerProfile.objects.filter(user=alice.user).update(status="suspended", status_reason="review")
    r = alice.post(CLAIM, {})
    assert r.status_code == 403 and r.json()["error"]["code"] == "suspended"
    assert not Assignment.objects.filter(worker=alice.user, project__in=[js_only, paused]).exists()


@pytest.mark.django_db
def test_live_claims_cap_and_share_cap(worker, settings):
    settings.QUEUE_MAX_LIVE_CLAIMS = 2
    settings.QUEUE_DEFAULT_SHARE_MIN = 3
    settings.QUEUE_DEFAULT_SHARE_PERCENT = 20
    project = make_project(overlap=1, max_judgments_per_worker=None)
    make_tasks(project, 10)  # cap = max(3, 20% of 10) = 3
    alice = worker()
    first, second = alice.post(CLAIM, {}), alice.post(CLAIM, {})
    assert first.status_code == second.status_code == 201
    over = alice.post(CLAIM, {})
    assert over.status_code == 403 and over.json()["error"]["code"] == "too_many_live_claims"
    assert submit(alice, first.json()["id"]).status_code == 200
    third = alice.post(CLAIM, {})
    assert third.status_code == 201
    assert submit(alice, second.json()["id"]).status_code == 200
    assert submit(alice, third.json()["id"]).status_code == 200
    assert alice.post(CLAIM, {}).status_code == 204  # 3 of 10 tasks: the share cap
    assert Assignment.objects.filter(worker=alice.user).count() == 3


@pytest.mark.django_db
def test_order_closest_to_overlap_then_priority_then_age(worker):
    project = make_project(overlap=3)
    old, new, urgent = make_tasks(project, 3)
    Task.objects.filter(pk=urgent.pk).update(priority=5)
    alice, bob, carol = worker("a@example.com"), worker("b@example.com"), worker("c@example.com")
    assert alice.post(CLAIM, {}).json()["task"]["id"] == urgent.pk
    r = bob.post(CLAIM, {}).json()
    assert (r["task"]["id"], r["reason"]) == (urgent.pk, "closest to completion: 1/3 judgments")
    Task.objects.filter(pk=new.pk).update(n_active=3, overlap=5)  # pretend three others hold it
    assert carol.post(CLAIM, {}).json()["task"]["id"] == new.pk


def test_reason_strings_sql_and_python_agree():
    assert served_reason(n_before=2, overlap=3, age_boost=0, priority=0, project_priority=0) == \
        "closest to completion: 2/3 judgments"
    assert served_reason(n_before=0, overlap=3, age_boost=1, priority=1, project_priority=0).startswith("waiting")
    assert served_reason(n_before=0, overlap=3, age_boost=0, priority=0, project_priority=0) == "oldest open task"


@pytest.mark.django_db
def test_gold_is_mixed_in_and_never_distinguishable(worker):
    project = make_project(overlap=3, gold_share=0.5)
    make_tasks(project, 30)
    gold = make_tasks(project, 10, gold=True)
    gold_ids = {t.pk for t in gold}
    workers = [worker(f"w{i}@example.com") for i in range(4)]
    seen_gold, seen_real = [], []
    for who in workers:
        for _ in range(8):
            r = who.post(CLAIM, {})
            assert r.status_code == 201
            body = r.json()
            (seen_gold if body["task"]["id"] in gold_ids else seen_real).append(body)
            assert submit(who, body["id"], {"choice": "b"}).status_code == 200
    assert seen_gold and seen_real
    assert {frozenset(b) for b in seen_gold} == {frozenset(b) for b in seen_real}
    assert {frozenset(b["task"]["data"]) for b in seen_gold} == {frozenset(b["task"]["data"]) for b in seen_real}
    real_reasons = {b["reason"] for b in seen_real}
    assert {b["reason"] for b in seen_gold} <= real_reasons
    assert all(b["expires_at"] for b in seen_gold)
    listed = workers[0].get("/api/v1/assignments/").json()["results"]
    assert all(set(a) == set(listed[0]) for a in listed)
    assert all(set(a["judgment"]) == {"id", "answer", "seconds_spent", "reported_seconds", "submitted_at", "execution"}
               for a in listed)
    assert "gold" not in workers[0].get("/api/v1/assignments/").content.decode()
    graded = Judgment.objects.filter(is_gold=True)
    assert graded.exists() and set(graded.values_list("gold_correct", flat=True)) == {False}  # gold is "a"


@pytest.mark.django_db
def test_gold_is_not_served_when_no_real_work_is_left(worker):
    project = make_project(overlap=1, gold_share=1.0)
    make_tasks(project, 5, gold=True)
    alice = worker()
    assert alice.post(CLAIM, {}).status_code == 204
    (real,) = make_tasks(project, 1)
    served = assignment_claim(user=alice.user, rng=random.Random(1))
    assert served is not None and served.task_id != real.pk  # gold, while real work exists


@pytest.mark.django_db
def test_notify_work_available_mails_only_who_could_claim_once_per_interval(worker, person):
    from tasks.jobs.queue import notify_work_available

    project = make_project(overlap=1)
    make_tasks(project, 2)
    idle = worker("idle@example.com")
    busy = worker("busy@example.com")
    opted_out = worker("quiet@example.com")
    WorkerProfile.objects.filter(user=opted_out.user).update(notify_new_work=False)
    worker("js@example.com", skills=("javascript",))
    person("unfinished@example.com")
    assert busy.post(CLAIM, {}).status_code == 201
    mail.outbox.clear()

    assert notify_work_available(project.pk) == 1
    assert [m.to for m in mail.outbox] == [[idle.user.email]]
    assert f"/work/projects/{project.pk}/" in mail.outbox[0].body
    assert notify_work_available(project.pk) == 0  # rate limit: once per interval
    assert WorkNotification.objects.count() == 1


@pytest.mark.django_db
def test_claim_fast_path_uses_the_workers_rules_compiled_once(worker, person):
    from django.db import connection

    from tasks.selectors.queue import worker_may_claim
    from tasks.selectors.queue_backends import queue_backend
    from workers.selectors import worker_claim_blockers

    # The cached SQL is really in use on PostgreSQL (its backend's). SQLite's driver adapts datetimes to
    # text while compiling, so "now" cannot be told from a constant there: the portable backend compiles
    # per claim, and the answers below must be the same either way.
    if connection.vendor == "postgresql":
        assert queue_backend().eligible_sql_template() is not None
    ready = worker("ready@example.com").user
    unverified = make_user("unverified@example.com", verified=False)
    complete_profile(unverified)
    qualify(unverified)
    suspended = worker("suspended@example.com").user
    WorkerProfile.objects.filter(user=suspended).update(status="suspended")
    for user in (ready, unverified, suspended, make_user("bare@example.com")):
        assert worker_may_claim(user=user) == (worker_claim_blockers(user=user) == [])
    # The claim reads eligibility, live claims and stale leases in one statement: the same answers.
    from tasks.selectors.queue import worker_claim_state, worker_live_claims_and_stale_leases

    project = make_project(overlap=2, lease_seconds=60)
    make_tasks(project, 3)
    assignment_claim(user=ready, project_id=project.pk)
    stale = assignment_claim(user=ready, project_id=project.pk)
    Assignment.objects.filter(pk=stale.assignment_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    now = timezone.now()
    for user in (ready, unverified, suspended):
        assert worker_claim_state(user=user, now=now) == (
            worker_may_claim(user=user), *worker_live_claims_and_stale_leases(user=user, now=now))
    assert worker_claim_state(user=ready, now=now) == (True, 1, True)
    # ... and the claim reads all of that and its projects in one statement: the same answers again, for
    # every kind of worker, all projects or one, in a pool or not, at the share cap or not.
    from tasks.selectors.queue import projects_claimable_for, worker_claim_context

    pool = Pool.objects.create(name="reviewers")
    pooled = make_project(overlap=2, pool=pool)
    make_tasks(pooled, 2)
    capped = make_project(overlap=2, max_judgments_per_worker=1)
    make_tasks(capped, 2)
    assignment_claim(user=ready, project_id=capped.pk)
    member = worker("member@example.com").user
    PoolMembership.objects.create(pool=pool, worker=member)

    def shape(claimable):
        return sorted((c.id, c.priority, c.gold_share, c.project.label_schema, c.project.held,
                       [getattr(c.project, f) for f in ("name", "instructions", "reward_cents", "currency")])
                      for c in claimable)

    seen = set()
    for user in (ready, unverified, suspended, member, make_user("bare2@example.com")):
        for only in (None, project.pk, pooled.pk, capped.pk):
            context = worker_claim_context(user=user, project_id=only, now=now)
            may, live, stale = worker_claim_state(user=user, now=now)
            assert (context.may_claim, context.live, context.stale) == (may, live, stale)
            expected = projects_claimable_for(user=user, project_id=only) if may else []
            assert shape(context.projects) == shape(expected)
            seen.add(tuple(sorted(c.id for c in context.projects)))
    assert {(project.pk,), (project.pk, pooled.pk, capped.pk), ()} <= seen  # the cases really differ


@pytest.mark.django_db
def test_fast_bodies_equal_the_serializers(worker):
    """claim_body / assignment_body (the hot paths) render exactly what ClaimSerializer / AssignmentSerializer
    (the schema) render: same keys, same values, same datetime format, for live, submitted and unanswered
    assignments alike."""
    from tasks.api.assignments import AssignmentSerializer, ClaimSerializer, assignment_body, claim_body
    from tasks.selectors.queue import worker_assignments_list

    project = make_project(overlap=2)
    make_tasks(project, 3)
    alice = worker("alice@example.com")
    claim = assignment_claim(user=alice.user, project_id=project.pk)
    assert claim_body(claim) == ClaimSerializer(claim).data
    done = submit(alice, claim.assignment_id, {"choice": "b", "reason": "off by one"}, seconds_spent=12)
    assert done.status_code == 200
    second = alice.post(CLAIM, {"project": project.pk}).json()
    assert submit(alice, second["id"], {"choice": "a"}).status_code == 200  # no seconds_spent: null
    alice.post(CLAIM, {"project": project.pk})
    rows = list(worker_assignments_list(user=alice.user))
    assert {a.status for a in rows} == {"submitted", "live"}
    for assignment in rows:
        assert assignment_body(assignment) == AssignmentSerializer(assignment).data
    assert done.json() == AssignmentSerializer(worker_assignments_list(user=alice.user).get(
        pk=claim.assignment_id)).data


@pytest.mark.postgres
@pytest.mark.django_db
def test_hot_statements_are_prepared_once_per_connection(worker):
    """On PostgreSQL the queue's statements are bound server-side and prepared after DB_PREPARE_THRESHOLD (5)
    runs, so a claim and a submit are not re-parsed and re-planned every time."""
    from django.db import connection

    project = make_project(overlap=1)
    make_tasks(project, 8)
    alice = worker()
    for _ in range(7):
        claimed = alice.post(CLAIM, {"project": project.pk})
        assert claimed.status_code == 201, claimed.content
        assert submit(alice, claimed.json()["id"]).status_code == 200
    assert connection.connection.prepare_threshold == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = " ".join(row[0] for row in cursor.fetchall())
    assert "FOR UPDATE OF t SKIP LOCKED" in prepared  # the claim
    assert "INSERT INTO tasks_judgment" in prepared  # the submit
    assert "balance_cents = balance_cents +" in prepared  # its earnings credit


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_prepared_submit_survives_a_column_added_by_a_migration(worker):
    """The submit's written-out reads name their columns: statements prepared before a migration (run from
    another connection, as `manage.py migrate` is) adds a column keep working; a prepared SELECT * would fail
    with "cached plan must not change result type" until the connection is recycled."""
    import psycopg
    from django.db import connection

    project = make_project(overlap=1)
    make_tasks(project, 9)
    alice = worker()
    for _ in range(6):
        assert submit(alice, alice.post(CLAIM, {"project": project.pk}).json()["id"]).status_code == 200
    settings = connection.settings_dict
    conninfo = {"host": settings["HOST"] or "127.0.0.1", "port": settings["PORT"] or 5432, "user": settings["USER"],
                "dbname": settings["NAME"], "password": settings["PASSWORD"] or None}

    def migrate(sql: str) -> None:
        with psycopg.connect(**conninfo, autocommit=True) as other:
            other.execute(sql)

    migrate("ALTER TABLE tasks_assignment ADD COLUMN added_later integer; "
            "ALTER TABLE payments_ledgeraccount ADD COLUMN added_later integer")
    try:
        done = submit(alice, alice.post(CLAIM, {"project": project.pk}).json()["id"])
        assert done.status_code == 200, done.content
    finally:
        migrate("ALTER TABLE tasks_assignment DROP COLUMN added_later; "
                "ALTER TABLE payments_ledgeraccount DROP COLUMN added_later")


@pytest.mark.django_db
def test_a_flags_answer_with_a_span_past_the_code_is_a_400_naming_the_span(worker):
    """Issue 29: a span's lines are checked against the task's code at submit (the API and the web app
    alike): past the last line, the 400 names answer.spans.<i>.end_line and nothing is stored."""
    project = make_project(overlap=1, task_type="flags")
    project.label_schema = {"taxonomy": ["off_by_one", "style", "none"]}
    project.save(update_fields=["label_schema"])
    task = make_tasks(project, 1)[0]
    Task.objects.filter(pk=task.pk).update(data={"code": "x = 1\ny = x[2]\n", "language": "python"})
    alice = worker()
    aid = alice.post(CLAIM, {}).json()["id"]
    spans = [{"start_line": 1, "end_line": 1, "category": "style"},
             {"start_line": 2, "end_line": 3, "category": "off_by_one"}]
    bad = submit(alice, aid, {"flags": [], "spans": spans})
    assert bad.status_code == 400, bad.content
    assert "answer.spans.1.end_line" in bad.json()["error"]["fields"]
    assert Assignment.objects.get(pk=aid).status == "live" and not Judgment.objects.exists()
    spans[1]["end_line"] = 2
    assert submit(alice, aid, {"flags": [], "spans": spans}).status_code == 200
    assert Judgment.objects.get().answer == {"flags": ["off_by_one", "style"], "spans": [
        {"start_line": 1, "end_line": 1, "category": "style"},
        {"start_line": 2, "end_line": 2, "category": "off_by_one"}]}
