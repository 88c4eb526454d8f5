"""CSV and spreadsheet formula injection, as a class: every CSV the project serves is found from the URL
resolver and the source, and text that clients, workers or Stripe wrote never opens as a formula."""

import csv
import io
import pathlib
import re

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from marketplace.csv_safe import csv_writer, spreadsheet_safe
from payments.models import PayoutLine
from payments.services import payout_batch_create
from tasks.models import Task
from tests.admin_support import admin_client
from tests.conftest import make_user
from tests.payments.factories import connect, credit
from tests.tasks.client_support import ClientSession, add_judgment, make_project, pair

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("marketplace", "workers", "tasks", "payments", "quality", "simulation", "webapp")

# What OWASP lists, and the same behind the spaces and quotes spreadsheets skip before deciding.
HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
           " =1+1", "\"=1+1", "\"' =1", "  @x", "\uff1d1+1"]
SAFE = ["plain", "a=b", "x-1", "", "mail@example.com", "1e5"]


def opens_as_formula(cell: str) -> bool:
    """A cell a spreadsheet would evaluate: a trigger first, or after the spaces and quotes it skips, and no
    leading apostrophe (the neutraliser's mark)."""
    return not cell.startswith("'") and cell.lstrip(" \"'\n\u00a0")[:1] in set("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def csv_url_patterns() -> set[str]:
    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, route)
            else:
                yield route
    return {route for route in walk(get_resolver()) if "csv" in route.lower()}


COVERED = {"api/v1/projects/<int:project_id>/export/results.csv": "results",
           "api/v1/payout-batches/<int:batch_id>/export.csv": "payout_api",
           "admin/payments/payoutbatch/<int:batch_id>/export.csv": "payout_admin"}


def test_every_csv_url_is_covered_by_the_injection_test():
    # A new CSV endpoint fails here until it joins COVERED and the hostile test below.
    assert csv_url_patterns() == set(COVERED)


def test_no_code_writes_csv_except_through_the_neutraliser():
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() == "marketplace/csv_safe.py":
                continue
            if re.search(r"\bcsv\.(writer|DictWriter)\b|from csv import .*(writer|DictWriter)", path.read_text()):
                offenders.append(path.relative_to(ROOT).as_posix())
    assert offenders == []


@pytest.mark.parametrize("value", HOSTILE)
def test_the_neutraliser_marks_every_formula_start(value):
    assert opens_as_formula(value)
    out = io.StringIO()
    csv_writer(out).writerow([value])
    (cell,) = next(csv.reader(io.StringIO(out.getvalue())))
    assert cell == "'" + value and not opens_as_formula(cell)


@pytest.mark.parametrize("value", [*SAFE, -500, 0, 0.75, True, None])
def test_plain_text_and_our_own_numbers_pass_unchanged(value):
    # Our numeric columns are ints and floats: a negative amount stays a number the sheet can add up.
    assert spreadsheet_safe(value) == value
    out = io.StringIO()
    csv_writer(out).writerow([value])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["" if value is None else str(value)]


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


@pytest.mark.django_db
@pytest.mark.parametrize("value", HOSTILE)
def test_no_csv_export_opens_hostile_text_as_a_formula(value, finance):
    texts = {}
    # Results: the client writes external ids, workers write answers.
    lab = ClientSession("Lab CSV")
    project = make_project(lab.client_row)
    lab.upload_jsonl(project.pk, [pair(0)])
    task = Task.objects.get(project=project)
    Task.objects.filter(pk=task.pk).update(external_id=value)
    add_judgment(task, make_user("rater@example.com"), {"choice": value})
    response = lab.get(f"/api/v1/projects/{project.pk}/export/results.csv")
    assert response.status_code == 200
    texts["results"] = b"".join(response.streaming_content).decode()
    # Payouts: workers write their email and Connect destination, Stripe the errors and transfer ids.
    worker = make_user("payee@example.com")
    connect(worker)
    credit(worker, n=1, reward_cents=500)
    admin = admin_client("fin-csv@example.com", groups=("finance",))
    batch = payout_batch_create(actor_id=admin.user.pk, cutoff=timezone.now(), minimum_cents=100)
    type(worker).objects.filter(pk=worker.pk).update(email=value)
    PayoutLine.objects.filter(batch=batch).update(destination=value, last_error=value, stripe_transfer_id=value)
    for name, caller, url in (("payout_api", finance, f"/api/v1/payout-batches/{batch.pk}/export.csv"),
                              ("payout_admin", admin, f"/admin/payments/payoutbatch/{batch.pk}/export.csv")):
        response = caller.get(url)
        assert response.status_code == 200, (name, response.status_code)
        texts[name] = response.content.decode()
    assert set(texts) == set(COVERED.values())
    for name, text in texts.items():
        cells = _cells(text)
        assert any(value in cell for cell in cells), name  # the hostile value really reached the export
        assert [cell for cell in cells if opens_as_formula(cell)] == [], name
