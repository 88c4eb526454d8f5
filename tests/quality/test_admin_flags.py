"""Flag review in the admin: the evidence is on the page, confirm/dismiss go through
quality.services.flag_resolve, and only ops (change permission on quality) may decide."""

import pytest

from quality.models import Flag, QualityAuditEvent
from tests.admin_support import admin_clients
from tests.quality import factories as f

pytestmark = pytest.mark.django_db
URL = "/admin/quality/flag/"


@pytest.fixture
def flag():
    project = f.project()
    worker = f.worker("flagged@example.com")
    f.judge(f.task(project), worker, {"choice": "a"}, seconds=1.5)
    return Flag.objects.create(worker=worker, project=project, rule="too_fast",
                               evidence={"median_seconds": 1.5, "threshold_seconds": 4.0, "n": 30})


def test_review_page_shows_the_evidence_to_ops_not_finance_or_plain_staff(flag):
    clients = admin_clients()
    for role in ("ops",):
        assert clients[role].get(URL).status_code == 200
        page = clients[role].get(f"{URL}{flag.pk}/change/").content.decode()
        assert "threshold_seconds" in page and "flagged@example.com" in page
        assert "&quot;seconds_spent&quot;: 1.5" in page  # the worker's latest judgments on the project
    for role in ("finance", "staff"):  # finance's API shows no flags (issue 13 row 14)
        assert clients[role].get(URL).status_code == 403
        assert clients[role].get(f"{URL}{flag.pk}/change/").status_code == 403


def test_finance_and_staff_cannot_decide_a_flag(flag):
    clients = admin_clients()
    for role in ("finance", "staff"):
        clients[role].post(URL, {"action": "confirm_flags", "_selected_action": [flag.pk]})
    flag.refresh_from_db()
    assert flag.status == "open" and flag.resolved_by is None
    assert not QualityAuditEvent.objects.filter(flag=flag).exists()


def test_ops_confirm_goes_through_the_service_and_a_second_decision_changes_nothing(flag):
    ops = admin_clients()["ops"]
    response = ops.post(URL, {"action": "confirm_flags", "_selected_action": [flag.pk]}, follow=True)
    assert response.status_code == 200
    flag.refresh_from_db()
    assert flag.status == "confirmed" and flag.resolved_by_id == ops.user.pk
    assert QualityAuditEvent.objects.filter(flag=flag, action="flag_confirmed").exists()
    ops.post(URL, {"action": "dismiss_flags", "_selected_action": [flag.pk]})  # already resolved: skipped
    flag.refresh_from_db()
    assert flag.status == "confirmed"


def test_ops_dismiss(flag):
    ops = admin_clients()["ops"]
    ops.post(URL, {"action": "dismiss_flags", "_selected_action": [flag.pk]})
    flag.refresh_from_db()
    assert flag.status == "dismissed" and flag.resolved_at is not None
