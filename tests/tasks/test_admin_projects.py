"""The project admin for ops: progress, agreement, effective hourly pay and the pay-floor alert; a fixed
number of queries per list page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quality.models import ProjectAgreement
from tests.admin_support import admin_clients
from tests.tasks.client_support import ClientSession, add_judgment, make_project
from tests.tasks.test_queue_factories import make_tasks
from tests.workers.factories import ready_worker

pytestmark = pytest.mark.django_db
URL = "/admin/tasks/project/"


def _project(session, name, *, reward_cents, seconds=(60,) * 5):
    project = make_project(session.client_row, name=name, reward_cents=reward_cents)
    tasks = make_tasks(project, len(seconds) + 1)
    make_tasks(project, 1, gold=True, start=100)
    for i, s in enumerate(seconds):
        add_judgment(tasks[i], ready_worker(f"{name}-{i}@example.com"), {"choice": "a"}, seconds=s)
    tasks[0].status = "complete"
    tasks[0].save(update_fields=["status"])
    return project


def test_pages_render_for_ops_not_finance_or_plain_staff():
    project = _project(ClientSession("c"), "fair", reward_cents=50)
    clients = admin_clients()
    assert clients["ops"].get(URL).status_code == 200
    assert clients["ops"].get(f"{URL}{project.pk}/change/").status_code == 200
    for role in ("finance", "staff"):  # finance's API shows no projects (issue 13 row 14)
        assert clients[role].get(URL).status_code == 403
        assert clients[role].get(f"{URL}{project.pk}/change/").status_code == 403


def test_list_shows_progress_and_hourly_pay_with_the_low_pay_alert_in_fixed_queries():
    session = ClientSession("c")
    _project(session, "fair", reward_cents=50)  # 50 * 3600 / 60 = 3000 cents/h
    ops = admin_clients()["ops"]
    ops.get(URL)
    with CaptureQueriesContext(connection) as one:
        page = ops.get(URL).content.decode()
    assert '<td class="field-progress">1 / 6</td>' in page  # the gold check is not counted as a task
    assert '<td class="field-judgments">5</td>' in page
    assert "30.00 USD" in page and "low pay" not in page
    _project(session, "cheap", reward_cents=5)  # 300 cents/h, under the 1500 floor
    _project(session, "new", reward_cents=5, seconds=(60, 60))  # too few judgments: no figure, no alert
    with CaptureQueriesContext(connection) as three:
        page = ops.get(URL).content.decode()
    assert len(three.captured_queries) == len(one.captured_queries)
    assert page.count("low pay") == 1 and "3.00 USD ⚠ low pay" in page


def test_detail_shows_agreement_pay_and_warns_under_the_floor():
    session = ClientSession("c")
    cheap = _project(session, "cheap", reward_cents=5)
    ops = admin_clients()["ops"]
    page = ops.get(f"{URL}{cheap.pk}/change/").content.decode()
    assert "under the floor of 15.00 USD" in page  # the warning message
    assert "3.00 USD per hour (0.05 USD per judgment, median 60.0 s over 5 judgments)" in page
    assert "1 of 6 tasks complete; 1 gold checks; 5 approved judgments" in page
    assert "not computed yet" in page
    ProjectAgreement.objects.create(project=cheap, alpha=0.712, level="nominal", fleiss_kappa=0.70, n_tasks=6,
                                    n_judgments=5, computed_at=timezone.now())
    page = ops.get(f"{URL}{cheap.pk}/change/").content.decode()
    assert "alpha (nominal) 0.712" in page and "kappa 0.700" in page

    fair = _project(session, "fair", reward_cents=50)
    page = ops.get(f"{URL}{fair.pk}/change/").content.decode()
    assert "under the floor" not in page and "30.00 USD per hour" in page


def test_the_change_page_edits_the_deadline_and_the_list_shows_it():
    """Issue 30 item 10: ops set or move a project's deadline in the admin (the ops console reads it)."""
    from datetime import timedelta

    project = _project(ClientSession("c"), "due", reward_cents=50)
    project.deadline = timezone.now() + timedelta(days=3)
    project.save(update_fields=["deadline"])
    ops = admin_clients()["ops"]
    page = ops.get(f"{URL}{project.pk}/change/").content.decode()
    assert 'name="deadline_0"' in page and 'name="deadline_1"' in page  # the date and time boxes
    assert "column-deadline" in ops.get(URL).content.decode()
