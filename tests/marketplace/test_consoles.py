"""The ops and finance consoles (Django's test client): what each shows matches the database, each role
sees only its own, and the one-click flag decisions go through quality's service."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from marketplace.observability.consoles import first_id_since
from payments.models import LedgerAccount
from payments.services.payouts import payout_batch_create
from quality.models import Flag
from tasks.models import Judgment
from tests.conftest import make_user
from tests.payments.factories import connect, credit, make_judgment, make_project
from workers.models import Pool, PoolMembership

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rollups():
    """The snapshots live in the cache, which outlives a test's database: start each test without them."""
    from django.core.cache import cache

    from marketplace.observability import gauges

    cache.delete_many([gauges.PROJECT_SNAPSHOT_KEY, gauges.THROUGHPUT_KEY])
    yield
    cache.delete_many([gauges.PROJECT_SNAPSHOT_KEY, gauges.THROUGHPUT_KEY])


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff():
    return {"ops": make_user("ops@example.com", groups=("ops",)),
            "finance": make_user("finance@example.com", groups=("finance",)),
            "finance2": make_user("finance2@example.com", groups=("finance",)),
            "worker": make_user("worker@example.com")}


@pytest.fixture
def world(staff):
    worker = make_user("rater@example.com")
    project = make_project(reward_cents=40)
    credit(worker, n=3, project=project)
    Judgment.objects.filter(worker=worker).update(seconds_spent=12.0)
    flag = Flag.objects.create(worker=worker, project=project, rule="too_fast",
                               evidence={"median_seconds": 1.5, "n": 40})
    pool = Pool.objects.create(name="Senior Python", capacity=1)
    PoolMembership.objects.create(pool=pool, worker=worker)
    connect(worker)
    batch = payout_batch_create(actor_id=staff["finance"].pk, cutoff=timezone.now(), minimum_cents=1,
                                currency="usd")
    return {"worker": worker, "project": project, "flag": flag, "pool": pool, "batch": batch}


def test_ops_console_shows_projects_flags_and_pools(staff, world):
    page = browser(staff["ops"]).get("/admin/ops/")
    assert page.status_code == 200
    text = page.content.decode()
    project = world["project"]
    row = page.context["projects"][0]
    assert row["project"] == project and row["total"] == 3 and row["complete"] + row["open"] == 3
    assert row["judgments_24h"] == 3 and row["median_seconds"] == 12.0
    assert row["hourly_cents"] is None  # 3 timed judgments are below PAY_HOURLY_MIN_JUDGMENTS
    assert "too_fast" in text and "Median seconds: 1.5; n: 40." in text and "median_seconds" not in text
    assert 'value="confirm"' in text and 'value="dismiss"' in text
    assert "Senior Python" in text and "full" in text
    assert "chart.umd.min.js" in text and 'id="console-chart-data"' in text
    assert "cdn" not in text.lower()


def test_hourly_pay_against_the_floor(staff, world, settings):
    settings.PAY_HOURLY_MIN_JUDGMENTS = 3
    settings.PAY_FLOOR_HOURLY_CENTS = 15_000
    row = browser(staff["ops"]).get("/admin/ops/").context["projects"][0]
    assert row["hourly_cents"] == round(40 * 3600 / 12.0) == 12_000
    assert row["below_floor"] is True


def test_one_click_resolve_goes_through_the_service_once(staff, world):
    flag = world["flag"]
    ops = browser(staff["ops"])
    done = ops.post(f"/admin/ops/flags/{flag.pk}/resolve", {"decision": "dismiss", "note": "looked fine"},
                    follow=True)
    assert done.status_code == 200
    flag.refresh_from_db()
    assert flag.status == "dismissed" and flag.resolved_by == staff["ops"] and flag.note == "looked fine"
    again = ops.post(f"/admin/ops/flags/{flag.pk}/resolve", {"decision": "confirm"}, follow=True)
    assert again.status_code == 200 and "already dismissed" in again.content.decode()
    flag.refresh_from_db()
    assert flag.status == "dismissed"
    bad = ops.post(f"/admin/ops/flags/{flag.pk}/resolve", {"decision": "explode"}, follow=True)
    assert bad.status_code == 200 and "confirm or dismiss" in bad.content.decode()
    assert ops.post("/admin/ops/flags/999999/resolve", {"decision": "confirm"}, follow=True).status_code == 200
    assert ops.get(f"/admin/ops/flags/{flag.pk}/resolve").status_code == 405


def test_finance_console_shows_money_batches_and_four_eyes(staff, world):
    page = browser(staff["finance"]).get("/admin/finance/")
    assert page.status_code == 200
    money = page.context["money"]["usd"]
    for state, kind in (("payable", "worker_payable"), ("in_transit", "payouts_in_transit"),
                        ("pending", "worker_held"), ("paid", "paid_out")):
        expected = LedgerAccount.objects.filter(kind=kind, currency="usd").aggregate(s=Sum("balance_cents"))["s"]
        assert money[state] == (expected or 0)
    assert money["in_transit"] == 120  # 3 x 40 reserved by the draft batch
    (row,) = page.context["batches"]
    assert row["batch"] == world["batch"] and row["lines"] == {"reserved": {"n": 1, "cents": 120}}
    assert "waiting for a second finance user" in row["four_eyes"]
    assert "Not run yet" in page.content.decode()


def test_reconciliation_runs_on_request_and_is_shown(staff, world):
    finance = browser(staff["finance"])
    page = finance.post("/admin/finance/reconcile", follow=True)
    assert page.status_code == 200
    assert page.context["reconciliation"]["ok"] is True
    assert "Ledger and Stripe agree" in page.content.decode()


@pytest.mark.parametrize("path", ["/admin/ops/", "/admin/finance/"])
def test_a_role_sees_only_its_console(staff, path):
    own = "ops" if "ops" in path else "finance"
    other = "finance" if own == "ops" else "ops"
    assert browser(staff[own]).get(path).status_code == 200
    assert browser(staff[other]).get(path).status_code == 403
    assert browser(staff["worker"]).get(path).status_code == 302  # not staff: the admin's login
    assert Client().get(path).status_code == 302


def test_the_other_roles_actions_are_refused(staff, world):
    flag = world["flag"]
    refused = browser(staff["finance"]).post(f"/admin/ops/flags/{flag.pk}/resolve", {"decision": "confirm"})
    assert refused.status_code == 403
    flag.refresh_from_db()
    assert flag.status == "open"
    assert browser(staff["ops"]).post("/admin/finance/reconcile").status_code == 403


def test_the_admin_index_links_each_role_to_its_console(staff):
    ops_index = browser(staff["ops"]).get("/admin/").content.decode()
    finance_index = browser(staff["finance"]).get("/admin/").content.decode()
    assert "/admin/ops/" in ops_index and "/admin/finance/" not in ops_index
    assert "/admin/finance/" in finance_index and "/admin/ops/" not in finance_index


def test_first_id_since_finds_the_boundary_with_gaps():
    worker = make_user("gaps@example.com")
    project = make_project()
    judgments = [make_judgment(worker=worker, project=project) for _ in range(12)]
    now = timezone.now()
    for i, judgment in enumerate(judgments):
        Judgment.objects.filter(pk=judgment.pk).update(created_at=now - timedelta(hours=48 - 4 * i))
    Judgment.objects.filter(pk__in=[judgments[5].pk, judgments[6].pk]).delete()  # holes in the ids
    for cut in range(12):
        since = now - timedelta(hours=48 - 4 * cut)
        expected = judgments[7].pk if cut in (5, 6) else judgments[cut].pk
        assert first_id_since(Judgment, since) == expected
    assert first_id_since(Judgment, now + timedelta(hours=1)) is None
