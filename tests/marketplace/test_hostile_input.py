"""Hostile input at the edge (issue 13, rows 5 and 6): every refusal is a 400 (or 404 for an id) in the one
error format, naming what and where, and nothing is stored.

Bodies are sent as raw text, because a client library would not produce them: lone surrogates, NUL, nesting
thousands deep, integers past 64 bits, NaN."""

import json

import pytest
from django.test import override_settings

from marketplace import json_limits
from payments.models import LedgerEntry
from tasks.models import Assignment, Judgment, Project, Task
from tests.conftest import make_user
from tests.tasks.client_support import PROJECT, ClientSession, pair
from tests.tasks.client_support import make_project as client_project
from tests.tasks.test_queue_factories import make_project, make_tasks
from tests.workers.factories import complete_profile, qualify

CLAIM = "/api/v1/assignments/claim/"
BIG = 1 << 63  # one past the largest signed 64-bit integer
DEEP = "[" * 2000 + "]" * 2000


def deep_object(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def send(api, method: str, path: str, text: str, **headers):
    return api.generic(method.upper(), path, text.encode("utf-8", "surrogatepass"),
                       content_type="application/json", **headers)


def refused(response, where: str | None = None, status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "fields"}, error
    if where is not None:
        assert where in error["fields"], error
        assert where in error["message"], error
    return error


@pytest.fixture
def worker(person):
    who = person("hostile-worker@example.com")
    complete_profile(who.user, skills=("python",))
    qualify(who.user, "python")
    return who


@pytest.fixture
def live(worker):
    """A worker holding a live assignment on a pairwise project."""
    project = make_project(overlap=2)
    make_tasks(project, 2)
    claimed = worker.post(CLAIM, {"project": project.pk})
    assert claimed.status_code == 201, claimed.content
    return worker, claimed.json()["id"], project


# --- row 5: one worker's lone surrogate ---------------------------------------------------------------------

@pytest.mark.django_db
def test_a_lone_surrogate_in_a_reason_is_refused_and_stores_nothing(live):
    """Given a live assignment, when the worker submits {"reason": "x\\ud800y"}, then 400 names answer.reason,
    no judgment and no credit exist, the assignment is still live, and every read of the worker's work and of
    the client's results still answers (on main: 500, yet the judgment and credit were stored on SQLite)."""
    worker, assignment_id, project = live
    entries = LedgerEntry.objects.count()
    response = send(worker.client, "post", f"/api/v1/assignments/{assignment_id}/submit/",
                    '{"answer": {"choice": "a", "reason": "x\\ud800y"}}')
    error = refused(response, "answer.reason")
    assert "surrogate" in error["fields"]["answer.reason"][0]
    assert Judgment.objects.count() == 0 and LedgerEntry.objects.count() == entries
    assert Assignment.objects.get(pk=assignment_id).status == "live"
    assert worker.get("/api/v1/assignments/").status_code == 200
    ok = worker.post(f"/api/v1/assignments/{assignment_id}/submit/", {"answer": {"choice": "a", "reason": "fine"}})
    assert ok.status_code == 200, ok.content


@pytest.mark.django_db
@pytest.mark.parametrize("text, where", [
    ('{"answer": {"choice": "a", "reason": "a\\u0000b"}}', "answer.reason"),
    ('{"answer": {"choice": "a", "\\ud83d": 1}}', None),  # a surrogate in a key
    ('{"answer": {"choice": "a"}, "seconds_spent": NaN}', "seconds_spent"),
    ('{"answer": {"choice": "a"}, "seconds_spent": -Infinity}', "seconds_spent"),
    ('{"answer": {"choice": "a"}, "seconds_spent": 1e400}', "seconds_spent"),
    ('{"answer": {"choice": "a", "strength": 18446744073709551616}}', "answer.strength"),
    ('{"answer": {"choice": "a"}, "x": "\\udc00"}', "x"),
    (f'{{"answer": {deep_object(70)}}}', "answer" + ".a" * 63),
    (f'{{"answer": {DEEP}}}', "body"),
])
def test_submit_refuses_hostile_json_and_stores_nothing(live, text, where):
    worker, assignment_id, _ = live
    response = send(worker.client, "post", f"/api/v1/assignments/{assignment_id}/submit/", text)
    error = refused(response, where)
    assert error["code"] == "invalid_json"
    assert Judgment.objects.count() == 0
    assert Assignment.objects.get(pk=assignment_id).status == "live"


# --- row 6: nesting 2000 deep, integers >= 2**63 --------------------------------------------------------------

@pytest.mark.django_db
def test_deep_nesting_is_400_everywhere_it_was_500(worker, live):
    """PATCH /me, label_schema, a JSON-array upload and an answer, each nested 2000 deep: 400, nothing changed."""
    _, assignment_id, _ = live
    lab = ClientSession("Hostile Labs")
    project = client_project(lab.client_row)
    profile_before = worker.get("/api/v1/me/").json()

    refused(send(worker.client, "patch", "/api/v1/me/", DEEP))
    refused(send(worker.client, "patch", "/api/v1/me/", f'{{"display_name": {DEEP}}}'))
    assert worker.get("/api/v1/me/").json() == profile_before

    projects = Project.objects.count()
    body = json.dumps(dict(PROJECT, name="deep")).replace('"label_schema": {', f'"label_schema": {{"x": {DEEP}, ')
    refused(send(lab.api, "post", "/api/v1/projects/", body, HTTP_AUTHORIZATION=f"Api-Key {lab.key}"))
    assert Project.objects.count() == projects

    tasks = Task.objects.count()
    upload = lab.upload_array(project.pk, f'[{json.dumps(pair(1))}, {DEEP}]')
    error = refused(upload)
    assert error["code"] == "invalid_lines" and error["lines"][0]["line"] == 2, error
    row = json.dumps(pair(2)).replace('"data": {', f'"data": {{"meta": {deep_object(80)}, ')
    error = refused(lab.upload_array(project.pk, f"[{row}]"))
    assert list(error["lines"][0]["errors"]) == ["data.meta" + ".a" * 62], error
    assert Task.objects.filter(project=project).count() == 0 and Task.objects.count() == tasks

    refused(send(worker.client, "post", f"/api/v1/assignments/{assignment_id}/submit/", f'{{"answer": {DEEP}}}'))
    assert Judgment.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("number", [BIG, 1 << 64, -BIG - 1, 10 ** 30])
def test_integers_past_64_bits_are_refused_where_they_were_500(worker, finance, number):
    """claim {"project": n}, submit on assignment n and a ledger adjustment of n cents: 400 or 404, nothing stored."""
    make_project(overlap=2)
    refused(send(worker.client, "post", CLAIM, f'{{"project": {number}}}'), "project")
    assert Assignment.objects.count() == 0
    if number > 0:
        refused(worker.post(f"/api/v1/assignments/{number}/submit/", {"answer": {"choice": "a"}}), status=404)
    payee = make_user("payee@example.com")
    entries = LedgerEntry.objects.count()
    body = (f'{{"worker": {payee.pk}, "kind": "bonus", "amount_cents": {number}, "memo": "m", '
            f'"reference": "big-{number}"}}')
    refused(send(finance.client, "post", "/api/v1/ledger-adjustments/", body), "amount_cents")
    wrong_worker = (f'{{"worker": {number}, "kind": "bonus", "amount_cents": 100, "memo": "m", '
                    f'"reference": "big-worker-{number}"}}')
    refused(send(finance.client, "post", "/api/v1/ledger-adjustments/", wrong_worker), "worker")
    assert LedgerEntry.objects.count() == entries


@pytest.mark.django_db
def test_the_signed_64_bit_bounds_themselves_pass_the_edge(worker):
    """2**63-1 and -2**63 are JSON this system can hold: the edge lets them through to validation."""
    make_project(overlap=2)
    assert send(worker.client, "post", CLAIM, f'{{"project": {BIG - 1}}}').status_code == 404  # no such project
    error = refused(send(worker.client, "post", CLAIM, f'{{"project": {-BIG}}}'), "project")
    assert error["code"] == "invalid"  # the serializer's min_value, not the edge


@pytest.mark.django_db
@pytest.mark.parametrize("query, name", [(f"?page={BIG}", "page"), (f"?page_size={BIG}", "page_size"),
                                         ("?status=live%00", "status"), (f"?status={10 ** 25}", "status")])
def test_query_parameters_out_of_range_or_with_nul_are_400(worker, query, name):
    response = worker.get(f"/api/v1/assignments/{query}")
    refused(response, name)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/assignments/{n}/release/", "/api/v1/pools/{n}/", "/api/v1/flags/{n}/",
                                  "/api/v1/payout-batches/{n}/", "/api/v1/projects/{n}/results/"])
def test_ids_past_64_bits_in_the_path_are_404(worker, path):
    response = worker.client.get(path.format(n=BIG)) if "release" not in path else worker.post(path.format(n=BIG))
    refused(response, status=404)


@pytest.mark.django_db
def test_form_bodies_are_refused_the_api_speaks_json(worker):
    response = worker.client.post(CLAIM, {"project": str(10 ** 30)})  # multipart, the test client's default
    assert response.status_code == 415, response.content
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert Assignment.objects.count() == 0


@pytest.mark.django_db
def test_hostile_input_to_the_auth_endpoints_is_400_not_500():
    """The allauth endpoints are not DRF views: the middleware guards them too."""
    from rest_framework.test import APIClient

    api = APIClient()
    for text in (DEEP, '{"email": "a\\u0000@example.com", "password": "x"}', '{"email": "\\ud800"}'):
        refused(send(api, "post", "/_allauth/app/v1/auth/login", text))


# --- task uploads (JSONL) --------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("line, where", [
    ('"note": "x\\ud800"', "data.note"),
    ('"note": "x\\u0000"', "data.note"),
    ('"n": 99999999999999999999', "data.n"),
    ('"n": NaN', "data.n"),
    (f'"deep": {deep_object(65)}', "data.deep" + ".a" * 62),
    (f'"deep": {DEEP}', "line"),
])
def test_a_hostile_jsonl_line_is_named_by_line_and_path_and_nothing_is_stored(line, where):
    lab = ClientSession("Hostile Labs")
    project = client_project(lab.client_row)
    good = json.dumps(pair(1))
    bad = json.dumps(pair(2)).replace('"data": {', '"data": {' + line + ", ")
    response = lab.upload_jsonl(project.pk, [good, bad])
    error = refused(response)
    assert error["code"] == "invalid_lines"
    assert error["lines"][0]["line"] == 2 and where in error["lines"][0]["errors"], error
    assert Task.objects.filter(project=project).count() == 0


# --- the limits themselves -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, where", [
    ({"a": [1, {"b": "x\x00"}]}, "a.1.b"),
    ({"a": [json_limits.INT_MAX + 1]}, "a.0"),
    ({"a": json_limits.INT_MIN - 1}, "a"),
    ({"a": float("nan")}, "a"),
    ({"a": -float("inf")}, "a"),
    ({"a": 2.0 ** 63}, "a"),
    ({"a": "\udfff"}, "a"),
    ({"k\x00": 1}, ""),
    ({"a": {"b": {"\ud800": 1}}}, "a.b"),
])
def test_check_value_names_the_path(value, where):
    with pytest.raises(json_limits.HostileJSON) as caught:
        json_limits.check_value(value)
    assert caught.value.path == where


def test_the_depth_limit_is_exact_and_configurable(client, db):
    json_limits.check_value(json.loads(deep_object(64)))  # 64 objects, one in another: the limit itself
    with pytest.raises(json_limits.HostileJSON):
        json_limits.check_value(json.loads(deep_object(65)))
    json_limits.check_value([json_limits.INT_MAX, json_limits.INT_MIN, 1.5, -(2.0 ** 62), "é\U0001f600", None, True])
    with override_settings(API_JSON_MAX_DEPTH=3):
        response = client.post(CLAIM, deep_object(4), content_type="application/json")
        assert response.status_code == 400 and "3 levels" in response.json()["error"]["message"]
        assert client.post(CLAIM, deep_object(3), content_type="application/json").status_code == 401


def test_orjson_big_integers_do_not_become_floats_silently():
    """orjson decodes 2**64 as a float; the limits refuse it instead of letting 1.8e19 through."""
    with pytest.raises(json_limits.HostileJSON) as caught:
        json_limits.loads(b'{"amount_cents": 18446744073709551616}')
    assert caught.value.path == "amount_cents"
    assert json_limits.loads(b'{"a": [1, "\\u00e9"]}') == {"a": [1, "é"]}


def test_the_task_types_refuse_unstorable_text_for_callers_past_the_parser():
    """Services called without the API (demo data, jobs, the admin) still cannot store a surrogate or NUL."""
    from marketplace.errors import ValidationFailed
    from tasks.label_schemas import validate_answer, validate_task_data

    for reason in ("x\ud800y", "x\x00y"):
        with pytest.raises(ValidationFailed) as caught:
            validate_answer("pairwise", {}, {"choice": "a", "reason": reason})
        assert "answer.reason" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        validate_task_data("pairwise", {"prompt": "\udc00", "language": "python", "response_a": "a",
                                        "response_b": "b"})
    assert "data.prompt" in caught.value.fields
    assert validate_answer("pairwise", {}, {"choice": "a", "reason": "naïve \U0001f600"})["reason"] == "naïve \U0001f600"


@pytest.mark.django_db
def test_admin_json_fields_refuse_hostile_json_as_a_form_error(rf):
    """The admin edits JSON (task data, label schemas) with the API's limits: a form error, not a 500."""
    from django.contrib import admin
    from django.core.exceptions import ValidationError

    from marketplace.admin_json import LimitedJSONField

    request = rf.get("/admin/")
    request.user = make_user("root-json@example.com")
    request.user.is_staff = request.user.is_superuser = True
    for model, name in ((Task, "data"), (Project, "label_schema")):
        field = admin.site._registry[model].get_form(request).base_fields[name]
        assert isinstance(field, LimitedJSONField), (model, type(field))
        for text in (DEEP, '{"a": {"b": "\\u0000"}}', '{"a": "\\ud800"}', '{"a": 99999999999999999999}'):
            with pytest.raises(ValidationError):
                field.clean(text)
        assert field.clean('{"a": [1, "é"]}') == {"a": [1, "é"]}
