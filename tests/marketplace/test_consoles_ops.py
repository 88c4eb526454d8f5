"""The ops console's flags (Django's test client): evidence and actions in sentences, a link to the
worker's answers, bulk confirm/dismiss through quality's flag_resolve one flag at a time; hostile ids
and other roles refused."""

import pytest
from django.test import Client
from django.utils.html import strip_tags

from quality.services.flags import flag_raise, flag_resolve
from tests.conftest import make_user
from tests.payments.factories import credit, make_project

pytestmark = pytest.mark.django_db

FAST = {"rule": "fast", "level": "suspend", "message": "Median time per task is under 4 s.",
        "evidence": {"median_seconds": 1.2, "n_timed": 30, "floor": 4}}
SAME = {"rule": "same_answer", "level": "review", "message": "Answers '3' far more often than chance.",
        "evidence": {"answer": 3, "count": 27, "n": 30, "pool_share": 0.21, "p_value": 1.5e-12}}


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ops():
    return make_user("ops@example.com", groups=("ops",))


def raised(email: str, findings=(FAST, SAME)):
    worker = make_user(email)
    project = make_project(reward_cents=40)
    credit(worker, n=3, project=project)
    flag = flag_raise(worker_id=worker.pk, project_id=project.pk, findings=list(findings), n_judgments=30)
    assert flag is not None
    return flag


def test_evidence_and_actions_read_as_sentences(ops):
    flag = raised("fast@example.com")
    page = browser(ops).get("/admin/ops/")
    text = strip_tags(page.content.decode())
    assert "Median 1.2 s per task over 30 timed judgments (the floor is 4 s)." in text
    assert 'Answered 3 27 times in 30 (90%); the pool gives that answer 21% of the time (p = 1.5e-12).' in text
    assert "Measured over 30 of their judgments on this project." in text
    assert "Earnings held: 1.20 USD." in text
    for raw in ("[{", "'rule'", "requeued_judgment_ids", "held_cents", "True", "n_timed"):
        assert raw not in text, raw
    assert f'href="/admin/ops/workers/{flag.worker_id}/judgments?project={flag.project_id}"' in page.content.decode()


def test_the_worker_link_shows_their_answers_on_that_project(ops):
    flag = raised("answers@example.com")
    other = make_project()
    credit(flag.worker, n=1, project=other)
    page = browser(ops).get(f"/admin/ops/workers/{flag.worker_id}/judgments", {"project": flag.project_id})
    assert page.status_code == 200
    assert {row["judgment"].project_id for row in page.context["rows"]} == {flag.project_id}
    assert len(page.context["rows"]) == 3
    everything = browser(ops).get(f"/admin/ops/workers/{flag.worker_id}/judgments")
    assert len(everything.context["rows"]) == 4
    assert browser(ops).get(f"/admin/ops/workers/{flag.worker_id}/judgments", {"project": "1 OR 1"}).status_code == 400
    assert browser(ops).get("/admin/ops/workers/999999/judgments").status_code == 404
    finance = make_user("finance@example.com", groups=("finance",))
    assert browser(finance).get(f"/admin/ops/workers/{flag.worker_id}/judgments").status_code == 403


def test_bulk_dismiss_decides_each_flag_through_the_service(ops):
    a, b, c = raised("a@example.com"), raised("b@example.com"), raised("c@example.com")
    flag_resolve(flag_id=c.pk, decision="confirm", actor_id=ops.pk)  # decided meanwhile, in another tab
    page = browser(ops).post("/admin/ops/flags/resolve", {"flag": [a.pk, b.pk, c.pk, 999999], "decision": "dismiss",
                                                          "note": "bulk"}, follow=True)
    text = page.content.decode()
    assert "2 flags dismissed" in text and f"flag {c.pk}: Flag {c.pk} is already confirmed" in text
    assert "flag 999999: No such flag." in text
    for flag in (a, b):
        flag.refresh_from_db()
        assert flag.status == "dismissed" and flag.note == "bulk" and flag.resolved_by == ops
        assert "released_cents" in flag.actions  # the service's dismissal ran: held earnings released
    c.refresh_from_db()
    assert c.status == "confirmed"


def test_bulk_confirm_runs_the_confirmation(ops):
    a, b = raised("x@example.com", findings=(SAME,)), raised("y@example.com", findings=(SAME,))
    browser(ops).post("/admin/ops/flags/resolve", {"flag": [a.pk, b.pk], "decision": "confirm"})
    for flag in (a, b):
        flag.refresh_from_db()
        assert flag.status == "confirmed" and "forfeited_cents" in flag.actions


@pytest.mark.parametrize("data", [
    {"flag": ["1 OR 1=1"], "decision": "confirm"}, {"flag": ["-1"], "decision": "confirm"},
    {"flag": [str(i) for i in range(101)], "decision": "confirm"},
])
def test_hostile_bulk_input_is_a_400_naming_the_field(ops, data):
    flag = raised("h@example.com")
    response = browser(ops).post("/admin/ops/flags/resolve", {**data, "flag": data["flag"] + [str(flag.pk)]})
    assert response.status_code == 400 and response.content.decode().startswith("flag:")
    flag.refresh_from_db()
    assert flag.status == "open"


def test_bulk_with_a_bad_decision_or_nothing_ticked_changes_nothing(ops):
    flag = raised("d@example.com")
    bad = browser(ops).post("/admin/ops/flags/resolve", {"flag": [flag.pk], "decision": "explode"}, follow=True)
    assert "confirm or dismiss" in bad.content.decode()
    empty = browser(ops).post("/admin/ops/flags/resolve", {"decision": "confirm"}, follow=True)
    assert "Tick at least one flag" in empty.content.decode()
    flag.refresh_from_db()
    assert flag.status == "open"


def test_finance_and_workers_cannot_bulk_resolve(ops):
    flag = raised("e@example.com")
    finance = make_user("finance@example.com", groups=("finance",))
    assert browser(finance).post("/admin/ops/flags/resolve", {"flag": [flag.pk], "decision": "dismiss"}).status_code == 403
    assert browser(flag.worker).post("/admin/ops/flags/resolve",
                                     {"flag": [flag.pk], "decision": "dismiss"}).status_code == 302
    flag.refresh_from_db()
    assert flag.status == "open"


def test_risk_order_and_eta():
    from types import SimpleNamespace

    from marketplace.observability.consoles import by_risk, project_eta

    def row(name, open_, per_24h, status="active", overlap=3, priority=0):
        r = {"project": SimpleNamespace(name=name, overlap=overlap, status=status, priority=priority, deadline=None),
             "open": open_, "judgments_24h": per_24h}
        r.update(project_eta(r))
        return r

    rows = [row("done", 0, 0), row("fast", 10, 240), row("paused", 10, 0, status="paused"),
            row("slow", 1000, 24), row("idle", 5, 0)]
    assert [r["risk"] for r in rows] == ["done", "on track", "paused", "behind", "stalled"]
    assert rows[3]["eta_hours"] == 3000 and rows[1]["eta_hours"] == 3
    assert [r["project"].name for r in by_risk(rows)] == ["idle", "slow", "fast", "paused", "done"]


def test_one_outlier_caps_the_pay_axis_and_is_listed():
    from types import SimpleNamespace

    from marketplace.observability.ops_actions import pay_chart

    def row(name, cents):
        return {"project": SimpleNamespace(name=name, currency="usd"), "hourly_cents": cents}

    chart = pay_chart([row("a", 1500), row("b", 581_853), row("c", None), row("d", 1200)], floor_cents=1000)
    assert chart["pay_axis_max"] == 22.5 and chart["hourly"] == [15.0, 5818.53, None, 12.0]
    assert chart["pay_outliers"] == [{"index": 1, "project": "b", "text": "5,818.53 USD"}]
    even = pay_chart([row("a", 1500), row("b", 3000)], floor_cents=1000)
    assert even["pay_axis_max"] is None and even["pay_outliers"] == []


def test_a_project_whose_pace_ends_after_its_deadline_is_late():
    """Issue 30 item 10: with a deadline, the ETA at the last 24 hours' pace decides late or on track (not the
    one-week rule); late sorts right after stalled."""
    from datetime import timedelta
    from types import SimpleNamespace

    from django.utils import timezone

    from marketplace.observability.consoles import by_risk, project_eta

    now = timezone.now()

    def row(name, open_, per_24h, deadline=None, status="active"):
        r = {"project": SimpleNamespace(name=name, overlap=1, status=status, priority=0, deadline=deadline),
             "open": open_, "judgments_24h": per_24h}
        r.update(project_eta(r, now))
        return r

    # 48 judgments left at 24 a day: two days; the deadline tomorrow is missed, the one in three days is not.
    late = row("late", 48, 24, deadline=now + timedelta(days=1))
    fine = row("fine", 48, 24, deadline=now + timedelta(days=3))
    # A month of work with a deadline in two months: on track, though it would be "behind" without one.
    long_ok = row("long", 24 * 30, 24, deadline=now + timedelta(days=60))
    slow = row("slow", 24 * 30, 24)
    idle = row("idle", 5, 0, deadline=now + timedelta(days=1))
    overdue = row("overdue", 1, 24, deadline=now - timedelta(hours=1))
    assert late["risk"] == "late" and late["eta_at"] == now + timedelta(days=2)
    assert fine["risk"] == "on track" and long_ok["risk"] == "on track" and slow["risk"] == "behind"
    assert idle["risk"] == "stalled" and overdue["risk"] == "late"
    rows = [fine, slow, late, long_ok, idle, overdue]
    assert [r["project"].name for r in by_risk(rows)] == ["idle", "late", "overdue", "slow", "long", "fine"]


def test_the_console_reads_late_and_the_deadline_in_words(ops):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import Task

    project = make_project(reward_cents=40)
    worker = make_user("pace@example.com")
    credit(worker, n=3, project=project)  # three judgments in the last 24 hours
    for i in range(30):
        Task.objects.create(project=project, external_id=f"open-{i}", data={"content": "x"}, overlap=3)
    due = timezone.now() + timedelta(days=2)
    type(project).objects.filter(pk=project.pk).update(deadline=due)
    from django.core.cache import cache

    from marketplace.observability import gauges

    cache.delete_many([gauges.PROJECT_SNAPSHOT_KEY, gauges.THROUGHPUT_KEY])  # the rollups of this database
    page = browser(ops).get("/admin/ops/")
    assert page.status_code == 200
    row = page.content.decode().split(f'data-project="{project.pk}"')[1].split("</tr>")[0]
    text = " ".join(strip_tags(row).split())
    assert "late: about" in text and "the deadline is 1 day" in text, text
    assert due.strftime("%Y") in text
