"""Ops resolve flags over the API: roles enforced, dismiss releases the hold and reinstates, confirm
forfeits, a resolved flag cannot be resolved again, bad input is a 400 naming the field and changes nothing."""

import pytest
from rest_framework.test import APIClient

from payments.models import EarningsHold
from payments.selectors import worker_earnings_summary
from payments.services import earnings_credit_judgment
from quality.models import Flag, QualityAuditEvent, WorkerStanding
from quality.services import project_quality_recompute
from tasks.models import Judgment
from tests.conftest import Person, login
from tests.quality import factories as f
from workers.models import WorkerProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged():
    project, honest, spammer, tasks, golds = f.pairwise_crowd(n_tasks=60, seed=9)
    for j in Judgment.objects.filter(worker=spammer)[:12]:
        earnings_credit_judgment(judgment_id=j.pk)
    project_quality_recompute(project_id=project.pk)
    flag = Flag.objects.get(worker=spammer)
    assert flag.severity == "suspend" and flag.actions["held_cents"] == 120
    return flag


def test_ops_list_open_flags_with_evidence(ops, flagged):
    response = ops.get("/api/v1/flags/?status=open")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == flagged.pk and row["rule"] == flagged.rule
    assert any(x["rule"] == "same_answer" and x["count"] == 64 for x in row["evidence"]["findings"])
    assert row["actions"]["held_cents"] == 120
    assert ops.get("/api/v1/flags/?status=dismissed").json()["results"] == []
    bad = ops.get("/api/v1/flags/?status=maybe")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_workers_and_finance_get_403_and_change_nothing(person, finance, flagged):
    worker = person("someone@example.com")
    for who in (worker, finance):
        assert who.get("/api/v1/flags/").status_code == 403
        assert who.post(f"/api/v1/flags/{flagged.pk}/resolve/", {"decision": "dismiss"}).status_code == 403
    # The flagged worker cannot dismiss their own flag either.
    me = Person(flagged.worker, login(APIClient(), flagged.worker.email))
    assert me.post(f"/api/v1/flags/{flagged.pk}/resolve/", {"decision": "dismiss"}).status_code == 403
    flagged.refresh_from_db()
    assert flagged.status == "open"
    assert EarningsHold.objects.get(flag_id=flagged.pk).status == "held"


def test_anonymous_is_refused(api, flagged):
    assert api.get("/api/v1/flags/").status_code in (401, 403)


def test_dismiss_releases_the_hold_and_reinstates(ops, flagged):
    worker = flagged.worker
    assert worker_earnings_summary(user=worker)["held_cents"] == 120
    response = ops.post(f"/api/v1/flags/{flagged.pk}/resolve/", {"decision": "dismiss", "note": "false alarm"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "dismissed" and body["note"] == "false alarm" and body["resolved_by"] == "ops@example.com"
    summary = worker_earnings_summary(user=worker)
    assert summary["held_cents"] == 0 and summary["balance_cents"] == 120
    assert WorkerProfile.objects.get(user=worker).status == "active"
    assert WorkerStanding.objects.get(worker=worker, project=None).status != "suspended"
    actions = set(QualityAuditEvent.objects.filter(flag=flagged).values_list("action", flat=True))
    assert {"flag_dismissed", "hold_released", "worker_reinstated"} <= actions
    assert QualityAuditEvent.objects.get(flag=flagged, action="flag_dismissed").actor == ops.user

    again = ops.post(f"/api/v1/flags/{flagged.pk}/resolve/", {"decision": "confirm"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "flag_resolved"
    assert worker_earnings_summary(user=worker)["balance_cents"] == 120  # nothing forfeited by the refused call

    # The next run does not re-flag on the same evidence ops just dismissed.
    project_quality_recompute(project_id=flagged.project_id, force=True)
    assert Flag.objects.filter(worker=worker, status="open").count() == 0


def test_confirm_forfeits_and_keeps_the_suspension(ops, flagged):
    response = ops.post(f"/api/v1/flags/{flagged.pk}/resolve/", {"decision": "confirm"})
    assert response.status_code == 200
    summary = worker_earnings_summary(user=flagged.worker)
    assert summary["held_cents"] == 0 and summary["balance_cents"] == 0
    assert WorkerProfile.objects.get(user=flagged.worker).status == "suspended"
    assert EarningsHold.objects.get(flag_id=flagged.pk).status == "forfeited"


@pytest.mark.parametrize("payload, field", [({}, "decision"), ({"decision": "ban"}, "decision"),
                                            ({"decision": "dismiss", "note": "x" * 3000}, "note")])
def test_bad_input_is_400_naming_the_field_and_changes_nothing(ops, flagged, payload, field):
    response = ops.post(f"/api/v1/flags/{flagged.pk}/resolve/", payload)
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    flagged.refresh_from_db()
    assert flagged.status == "open" and EarningsHold.objects.get(flag_id=flagged.pk).status == "held"


def test_unknown_flag_is_404(ops):
    assert ops.post("/api/v1/flags/999999/resolve/", {"decision": "dismiss"}).status_code == 404
    assert ops.get("/api/v1/flags/999999/").status_code == 404
