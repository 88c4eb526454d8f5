"""The role matrix's world: two workers with their own work, staff of each role, two clients with projects.

Built once per test module (the caller wraps it in a transaction that is rolled back at the end), through
the API where the API is the way in (projects, uploads, claims, submissions) and through services where
the path belongs to staff tooling (flags, payout batches, pools). Every secret a worker must never see is
a distinctive string, so a leak shows up as a substring anywhere in a response.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import TestCase, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import login, make_user

# Distinctive strings: if one of these reaches a worker, it is a leak (gold, quiz keys, another's data).
GOLD_MARK = "GOLD-SECRET"
QUIZ_KEYS = ("k-alpha", "k-beta", "k-gamma")
ROLES = ("anon", "worker_a", "worker_b", "ops", "finance", "finance2", "client1", "client2")
WORKER_ROLES = ("worker_a", "worker_b")


@dataclass
class World:
    tokens: dict = field(default_factory=dict)  # role -> X-Session-Token
    keys: dict = field(default_factory=dict)  # role -> client API key
    users: dict = field(default_factory=dict)  # role -> User (workers, staff); "worker_c" too
    ids: dict = field(default_factory=dict)  # named ids used by the expectation table
    secrets: dict = field(default_factory=dict)  # worker role -> strings only that worker may see
    seen: list = field(default_factory=list)  # (worker role, response) of every claim/submit while building

    def api(self, role: str) -> APIClient:
        client = APIClient()
        if role in self.tokens:
            client.credentials(HTTP_X_SESSION_TOKEN=self.tokens[role])
        elif role in self.keys:
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {self.keys[role]}")
        return client


def _ok(response, *codes):
    assert response.status_code in codes, (response.status_code, response.content[:2000])
    return response


PAIR_SCHEMA = {"allow_tie": True, "require_reason": False}


def _project_body(name: str, **extra) -> dict:
    body = {"name": name, "task_type": "pairwise", "label_schema": PAIR_SCHEMA,
            "instructions": "Pick the correct completion.", "data_use_statement": "Trains a reward model.",
            "reward_cents": 40, "overlap": 2, "required_qualifications": ["python"], "gold_share": 0.3,
            "lease_seconds": 3600}
    body.update(extra)
    return body


def _rows(prefix: str, n: int, n_gold: int) -> list[dict]:
    rows = []
    for i in range(n + n_gold):
        row = {"external_id": f"{prefix}-{i}", "data": {
            "prompt": f"Write add{i}(x) returning x + {i}", "language": "python",
            "response_a": f"def add{i}(x):\n    return x + {i}\n", "response_b": f"def add{i}(x):\n    return x - {i}\n"}}
        if i >= n:
            row["gold"] = {"choice": "a", "reason": f"{GOLD_MARK}-{prefix}-{i}"}
        rows.append(row)
    return rows


def _work(world: World, role: str, project_id: int, n_submit: int) -> list[int]:
    """Claim and submit n_submit tasks over HTTP, then keep one live claim. Returns submitted assignment ids."""
    api = world.api(role)
    submitted = []
    for _ in range(n_submit):
        response = _ok(api.post("/api/v1/assignments/claim/", {"project": project_id}, format="json"), 201)
        claim = response.json()
        answer = {"choice": "a", "reason": world.secrets[role][0]}
        submit = _ok(api.post(f"/api/v1/assignments/{claim['id']}/submit/", {"answer": answer, "seconds_spent": 40},
                              format="json"), 200)
        world.seen += [(role, response), (role, submit)]
        submitted.append(claim["id"])
    live = _ok(api.post("/api/v1/assignments/claim/", {"project": project_id}, format="json"), 201)
    world.seen.append((role, live))
    world.ids[f"{role}_live_assignment"] = live.json()["id"]
    return submitted


def build_world(stripe_url: str) -> World:
    from payments.models import StripeAccount
    from payments.services.earnings import ledger_adjustment_create
    from payments.services.payouts import payout_batch_approve, payout_batch_create
    from quality.services.flags import flag_raise
    from quality.services.recompute import project_quality_recompute
    from tasks.services.clients import client_api_key_create, client_create
    from tasks.services.projects import project_pause
    from tests.workers.factories import complete_profile, qualify, skill
    from tests.workers.quizkit import make_quiz
    from workers.models import Pool
    from workers.services.pools import pool_members_add
    from workers.services.quizzes import quiz_attempt_start

    w = World()
    for role, name in (("worker_a", "Alice"), ("worker_b", "Bruno"), ("worker_c", "Chen")):
        email = f"{role.replace('_', '-')}@example.com"
        user = make_user(email)
        profile = complete_profile(user, skills=("python", "javascript"))
        profile.display_name = f"{name}-Secret-Name"
        profile.save(update_fields=["display_name"])
        qualify(user, "python")
        w.users[role] = user
        w.secrets[role] = (f"{role.upper()}-ANSWER-SECRET", email, profile.display_name)
        if role != "worker_c":
            w.tokens[role] = login(APIClient(), email)
    for role, groups in (("ops", ("ops",)), ("finance", ("finance",)), ("finance2", ("finance",))):
        w.users[role] = make_user(f"{role}@example.com", groups=groups)
        w.tokens[role] = login(APIClient(), f"{role}@example.com")
    for role in ("client1", "client2"):
        row = client_create(name=f"{role} org")
        w.keys[role] = client_api_key_create(client=row, name="matrix")[1]
        w.ids[f"{role}_id"] = row.pk

    # Quizzes: python (passed by both by construction), javascript (both hold an open attempt), sql (untouched).
    for slug in ("python", "javascript", "sql"):
        make_quiz(slug, cap=5)
    skill("go")  # a skill without a quiz yet: ops may author one
    for role in WORKER_ROLES:
        w.ids[f"{role}_attempt"] = quiz_attempt_start(worker_id=w.users[role].pk, quiz_slug="javascript").pk
    from workers.models import Question
    w.ids["question"] = Question.objects.filter(quiz__slug="sql").order_by("id").first().pk

    # Client 1: a pairwise project with gold, judged by A and B over HTTP; a paused project. Client 2: one project.
    c1 = w.api("client1")
    p1 = _ok(c1.post("/api/v1/projects/", _project_body("matrix p1"), format="json"), 201).json()["id"]
    _ok(c1.post(f"/api/v1/projects/{p1}/tasks/", _rows("p1", 8, 3), format="json"), 201)
    paused = _ok(c1.post("/api/v1/projects/", _project_body("matrix paused"), format="json"), 201).json()["id"]
    project_pause(project_id=paused)
    c2 = w.api("client2")
    p2 = _ok(c2.post("/api/v1/projects/", _project_body("matrix p2"), format="json"), 201).json()["id"]
    _ok(c2.post(f"/api/v1/projects/{p2}/tasks/", _rows("p2", 3, 0), format="json"), 201)
    w.ids.update(project=p1, paused_project=paused, client2_project=p2)
    for role in WORKER_ROLES:
        w.ids[f"{role}_submitted"] = _work(w, role, p1, 4)
    project_quality_recompute(project_id=p1, force=True)

    # Ops: a pool with A and B, an empty pool, an open flag on worker C.
    pool = Pool.objects.create(name="matrix core")
    pool_members_add(pool_id=pool.pk, worker_ids=[w.users["worker_a"].pk, w.users["worker_b"].pk])
    w.ids["pool"] = pool.pk
    w.ids["empty_pool"] = Pool.objects.create(name="matrix empty").pk
    flag = flag_raise(worker_id=w.users["worker_c"].pk, project_id=p1, n_judgments=30, findings=[{
        "rule": "fast", "level": "review", "message": "Median time per task is under 5 s.",
        "evidence": {"median_seconds": 1.5}}])
    w.ids["flag"] = flag.pk

    # Finance: A and B connected (accounts on the fake Stripe), an approved batch, then a draft batch.
    from payments.services.connect import payout_account_ensure
    for role in WORKER_ROLES:
        account, _ = payout_account_ensure(user=w.users[role])
        StripeAccount.objects.filter(pk=account.pk).update(payouts_enabled=True, details_submitted=True)
    # Pay follows evidence (issue 20): A's and B's credits wait in pending until cleared; the clock clears them
    # (a run as if the waiting time were over), so the batch below has lines to make.
    from payments.services.clearance import earnings_clearance_review
    earnings_clearance_review(worker_ids=[w.users[role].pk for role in WORKER_ROLES],
                              now=timezone.now() + timedelta(seconds=settings.PAY_CLEARANCE_WAIT_SECONDS + 60))
    approved = payout_batch_create(actor_id=w.users["finance"].pk, cutoff=timezone.now(), minimum_cents=1)
    payout_batch_approve(batch_id=approved.pk, actor_id=w.users["finance2"].pk)
    for role in WORKER_ROLES:
        ledger_adjustment_create(actor_id=w.users["finance"].pk, worker_id=w.users[role].pk, amount_cents=500,
                                 currency="usd", kind="bonus", memo="matrix bonus", reference=f"matrix-{role}")
    draft = payout_batch_create(actor_id=w.users["finance"].pk, cutoff=timezone.now(), minimum_cents=1)
    # Worker C is owed money no batch holds yet: a new batch (POST /payout-batches/) has a line to make.
    account, _ = payout_account_ensure(user=w.users["worker_c"])
    StripeAccount.objects.filter(pk=account.pk).update(payouts_enabled=True, details_submitted=True)
    ledger_adjustment_create(actor_id=w.users["finance"].pk, worker_id=w.users["worker_c"].pk, amount_cents=700,
                             currency="usd", kind="bonus", memo="matrix bonus", reference="matrix-worker_c")
    # Above PAYMENTS_ADJUSTMENT_APPROVAL_ABOVE_CENTS: pending until a finance user other than `finance` approves.
    pending = ledger_adjustment_create(actor_id=w.users["finance"].pk, worker_id=w.users["worker_b"].pk,
                                       amount_cents=50_000, currency="usd", kind="bonus", memo="matrix pending",
                                       reference="matrix-pending")
    w.ids.update(approved_batch=approved.pk, draft_batch=draft.pk, stripe_url=stripe_url, pending_adjustment=pending.pk)
    return w


@pytest.fixture(scope="module", name="world")
def world_fixture(django_db_setup, django_db_blocker):
    """The world, built once per module in a transaction rolled back at the end, beside a fake Stripe server.
    Tests take `db` as well: each runs in a savepoint inside it."""
    from payments.fakestripe import FakeStripeServer

    stripe = FakeStripeServer().start()
    overrides = override_settings(STRIPE_API_BASE=stripe.url, STRIPE_SECRET_KEY="sk_test_fake",
                                  PAYMENTS_STRIPE_RATE_LIMIT=0)
    overrides.enable()
    with django_db_blocker.unblock():
        atomics = TestCase._enter_atomics()
        try:
            yield build_world(stripe.url)
        finally:
            TestCase._rollback_atomics(atomics)
            overrides.disable()
            stripe.stop()
