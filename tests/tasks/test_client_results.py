"""Results, preference export and CSV export: pseudonymous workers, approved judgments only, consensus
from quality only (null when absent), constant query count, streaming."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quality import models as quality_models
from tasks.models import Judgment, Task
from tests.conftest import make_user
from tests.tasks.client_support import ClientSession, add_judgment, make_project, pair

pytestmark = pytest.mark.django_db


def consensus(task, answer, confidence=0.9):
    quality_models.TaskConsensus.objects.create(task=task, project=task.project, answer=answer, confidence=confidence,
                                                method="majority", n_judgments=3, computed_at=timezone.now())


@pytest.fixture
def lab():
    return ClientSession("Lab A")


@pytest.fixture
def workers():
    return [make_user(f"rater{i}@example.com") for i in range(3)]


@pytest.fixture
def project(lab, workers):
    project = make_project(lab.client_row)
    lab.upload_jsonl(project.pk, [pair(i) for i in range(4)] + [pair(9, gold={"choice": "a"})])
    tasks = {t.external_id: t for t in Task.objects.filter(project=project)}
    # ex-0: complete, a/a/b, consensus a; ex-1: complete, tie consensus; ex-2: complete, no consensus yet;
    # ex-3: open, one approved and one rejected judgment; ex-9: gold.
    for worker, choice in zip(workers, "aab", strict=True):
        add_judgment(tasks["ex-0"], worker, {"choice": choice})
        add_judgment(tasks["ex-1"], worker, {"choice": "tie"})
        add_judgment(tasks["ex-2"], worker, {"choice": "b"})
    add_judgment(tasks["ex-3"], workers[0], {"choice": "a"})
    add_judgment(tasks["ex-3"], workers[1], {"choice": "b"}, status=Judgment.Status.REJECTED)
    add_judgment(tasks["ex-9"], workers[2], {"choice": "b"})
    Task.objects.filter(external_id__in=["ex-0", "ex-1", "ex-2"]).update(status="complete", completed_at=timezone.now())
    consensus(tasks["ex-0"], {"choice": "a"}, 0.8)
    consensus(tasks["ex-1"], {"choice": "tie"}, 0.7)
    return project


def test_results_page_shape_pseudonyms_and_consensus(lab, project, workers):
    response = lab.get(f"/api/v1/projects/{project.pk}/results/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 5
    by_id = {r["external_id"]: r for r in body["results"]}
    r0 = by_id["ex-0"]
    assert r0["status"] == "complete" and r0["is_gold"] is False
    assert [j["answer"]["choice"] for j in r0["judgments"]] == ["a", "a", "b"]
    assert r0["consensus"] == {"answer": {"choice": "a"}, "confidence": 0.8}
    assert by_id["ex-2"]["consensus"] is None  # not computed: null, never invented
    assert len(by_id["ex-3"]["judgments"]) == 1  # the rejected judgment is not a result
    assert by_id["ex-9"]["is_gold"] is True
    names = {j["worker"] for j in r0["judgments"]}
    assert len(names) == 3
    text = response.content.decode()
    for worker in workers:
        assert worker.email not in text
        assert f'"worker":{worker.pk}' not in text.replace(" ", "")
    # Stable across requests.
    again = lab.get(f"/api/v1/projects/{project.pk}/results/").json()
    assert {j["worker"] for j in {r["external_id"]: r for r in again["results"]}["ex-0"]["judgments"]} == names


def test_same_worker_has_different_pseudonyms_for_different_clients(lab, workers):
    other = ClientSession("Lab B")
    p1, p2 = make_project(lab.client_row), make_project(other.client_row)
    lab.upload_jsonl(p1.pk, [pair(1)])
    other.upload_jsonl(p2.pk, [pair(1)])
    add_judgment(Task.objects.get(project=p1), workers[0], {"choice": "a"})
    add_judgment(Task.objects.get(project=p2), workers[0], {"choice": "a"})
    w1 = lab.get(f"/api/v1/projects/{p1.pk}/results/").json()["results"][0]["judgments"][0]["worker"]
    w2 = other.get(f"/api/v1/projects/{p2.pk}/results/").json()["results"][0]["judgments"][0]["worker"]
    assert w1 != w2


def test_results_filters(lab, project):
    body = lab.get(f"/api/v1/projects/{project.pk}/results/?status=complete&gold=false").json()
    assert sorted(r["external_id"] for r in body["results"]) == ["ex-0", "ex-1", "ex-2"]
    assert lab.get(f"/api/v1/projects/{project.pk}/results/?status=done").status_code == 400
    assert lab.get(f"/api/v1/projects/{project.pk}/results/?gold=maybe").status_code == 400


def test_results_query_count_does_not_grow_with_tasks(lab, project, workers):
    def queries(path):
        with CaptureQueriesContext(connection) as ctx:
            response = lab.get(path)
            if response.streaming:
                b"".join(response.streaming_content)
        return len(ctx.captured_queries)

    path = f"/api/v1/projects/{project.pk}/results/"
    small, small_stream = queries(path), queries(path + "?format=jsonl")
    lab.upload_jsonl(project.pk, [pair(i) for i in range(100, 160)])
    for task in Task.objects.filter(project=project, external_id__regex=r"^ex-1\d\d$"):
        for worker in workers:
            add_judgment(task, worker, {"choice": "b"})
    assert queries(path) == small
    assert queries(path + "?format=jsonl") == small_stream


def test_results_jsonl_streams_every_task(lab, project):
    response = lab.get(f"/api/v1/projects/{project.pk}/results/?format=jsonl")
    assert response.status_code == 200
    assert response.streaming and response["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [r["external_id"] for r in lines] == ["ex-0", "ex-1", "ex-2", "ex-3", "ex-9"]
    assert lines[0]["consensus"]["confidence"] == 0.8


def export_lines(lab, path):
    response = lab.get(path)
    assert response.status_code == 200, response.content
    return response, [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


def test_preferences_export_holds_records_only_and_counts_in_headers(lab, project):
    response, lines = export_lines(lab, f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
    assert len(lines) == 1 and all("_summary" not in line for line in lines)
    pair_ = lines[0]
    data = Task.objects.get(project=project, external_id="ex-0").data
    assert pair_ == {"prompt": data["prompt"], "chosen": data["response_a"], "rejected": data["response_b"],
                     "confidence": 0.8, "n_raters": 3, "external_id": "ex-0", "language": "python",
                     "chosen_execution": "", "rejected_execution": ""}
    headers = {h: response[h] for h in ("X-Export-Pairs", "X-Export-Tasks", "X-Export-Ties", "X-Export-Unresolved",
                                        "X-Export-Filtered-Out", "X-Export-Open-Tasks")}
    assert headers == {"X-Export-Pairs": "1", "X-Export-Tasks": "1", "X-Export-Ties": "1", "X-Export-Unresolved": "1",
                       "X-Export-Filtered-Out": "0", "X-Export-Open-Tasks": "1"}


def test_preferences_summary_endpoint(lab, project):
    response = lab.get(f"/api/v1/projects/{project.pk}/export/preferences/summary/")
    assert response.status_code == 200, response.content
    assert response.json() == {"pairs": 1, "tasks_exported": 1, "ties": 1, "unresolved": 1, "filtered_out": 0,
                               "complete_tasks": 3, "open_tasks": 1, "mean_confidence": 0.8,
                               "filters": {"min_confidence": 0.0, "min_raters": 0}}
    other = ClientSession("Lab B")
    assert other.get(f"/api/v1/projects/{project.pk}/export/preferences/summary/").status_code == 404


def test_preferences_conversational_style(lab, project):
    response, lines = export_lines(lab, f"/api/v1/projects/{project.pk}/export/preferences.jsonl?style=conversational")
    data = Task.objects.get(project=project, external_id="ex-0").data
    assert lines == [{"prompt": [{"role": "user", "content": data["prompt"]}],
                      "chosen": [{"role": "assistant", "content": data["response_a"]}],
                      "rejected": [{"role": "assistant", "content": data["response_b"]}],
                      "confidence": 0.8, "n_raters": 3, "external_id": "ex-0", "language": "python",
                      "chosen_execution": "", "rejected_execution": ""}]
    assert "conversational" in response["Content-Disposition"]


def test_preferences_filters_on_confidence_and_raters(lab, project, workers):
    # ex-2 gets a b consensus from 2 raters at 0.95: ex-0 is a at 0.8 from 3 raters.
    quality_models.TaskConsensus.objects.create(
        task=Task.objects.get(project=project, external_id="ex-2"), project=project, answer={"choice": "b"},
        confidence=0.95, method="majority", n_judgments=2, computed_at=timezone.now())
    base = f"/api/v1/projects/{project.pk}/export/preferences.jsonl"
    cases = {"": ["ex-0", "ex-2"], "?min_confidence=0.9": ["ex-2"], "?min_raters=3": ["ex-0"],
             "?min_confidence=0.8&min_raters=2": ["ex-0", "ex-2"], "?min_confidence=0.96": [],
             "?min_confidence=0.9&min_raters=3": []}
    for query, expected in cases.items():
        response, lines = export_lines(lab, base + query)
        assert [r["external_id"] for r in lines] == expected, query
        assert response["X-Export-Pairs"] == str(len(expected)), query
        summary = lab.get(f"/api/v1/projects/{project.pk}/export/preferences/summary/{query}").json()
        assert summary["pairs"] == len(expected), query
        # Every complete task is in exactly one bucket, whatever the filters.
        assert (summary["tasks_exported"] + summary["ties"] + summary["unresolved"] + summary["filtered_out"]
                == summary["complete_tasks"] == 3), (query, summary)
    # The tie (0.7, 3 raters) is filtered out like a pair would be.
    summary = lab.get(f"/api/v1/projects/{project.pk}/export/preferences/summary/?min_confidence=0.75").json()
    assert (summary["ties"], summary["filtered_out"], summary["pairs"]) == (0, 1, 2)


@pytest.mark.parametrize("query, param", [
    ("min_confidence=high", "min_confidence"), ("min_confidence=1.5", "min_confidence"),
    ("min_confidence=-0.1", "min_confidence"), ("min_confidence=nan", "min_confidence"),
    ("min_confidence=inf", "min_confidence"), ("min_raters=-1", "min_raters"), ("min_raters=2.5", "min_raters"),
    ("min_raters=99999999999999999999", "min_raters"), ("min_raters=%D9%A3", "min_raters"),
    ("style=chatml", "style"), ("style=STANDARD", "style"),
])
def test_preferences_bad_parameters_are_400_naming_them(lab, project, query, param):
    paths = [f"/api/v1/projects/{project.pk}/export/preferences.jsonl?{query}"]
    if param != "style":
        paths.append(f"/api/v1/projects/{project.pk}/export/preferences/summary/?{query}")
    for path in paths:
        response = lab.get(path)
        assert response.status_code == 400, (path, response.content)
        assert list(response.json()["error"]["fields"]) == [param]


def test_ranking_preferences_expand_the_consensus_order(lab, workers):
    project = make_project(lab.client_row, task_type="ranking", label_schema={})
    lab.upload_jsonl(project.pk, [{"external_id": "r", "data": {"prompt": "p", "language": "python",
                                                                  "responses": ["x", "y", "z"]}}])
    task = Task.objects.get(project=project)
    Task.objects.filter(pk=task.pk).update(status="complete")
    consensus(task, {"order": [2, 0, 1]}, 0.6)
    response, lines = export_lines(lab, f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
    assert [(p["chosen"], p["rejected"]) for p in lines] == [("z", "x"), ("z", "y"), ("x", "y")]
    assert response["X-Export-Pairs"] == "3" and response["X-Export-Tasks"] == "1"
    summary = lab.get(f"/api/v1/projects/{project.pk}/export/preferences/summary/").json()
    assert (summary["pairs"], summary["mean_confidence"]) == (3, 0.6)


def test_ranking_order_that_does_not_fit_the_task_is_unresolved(lab):
    project = make_project(lab.client_row, task_type="ranking", label_schema={})
    lab.upload_jsonl(project.pk, [{"external_id": f"r{i}", "data": {"prompt": "p", "language": "python",
                                                                      "responses": ["x", "y", "z"]}} for i in range(4)])
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    Task.objects.filter(project=project).update(status="complete")
    consensus(tasks[0], {"order": [1, 0]})          # too short for 3 responses
    consensus(tasks[1], {"order": "2>0>1"})         # not a list
    consensus(tasks[2], {"choice": "a"})            # not a ranking answer
    consensus(tasks[3], {"order": [0, 2, 1]}, confidence=None)  # no confidence
    _, lines = export_lines(lab, f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
    assert lines == []
    summary = lab.get(f"/api/v1/projects/{project.pk}/export/preferences/summary/").json()
    assert (summary["pairs"], summary["unresolved"], summary["complete_tasks"]) == (0, 4, 4)


def test_preferences_export_refused_for_other_task_types(lab):
    project = make_project(lab.client_row, task_type="rating", label_schema={"min": 1, "max": 5})
    response = lab.get(f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_task_type"


def test_csv_export(lab, project, workers):
    Task.objects.filter(project=project, external_id="ex-3").update(external_id="=HYPERLINK(1)")
    response = lab.get(f"/api/v1/projects/{project.pk}/export/results.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5
    row = {r["external_id"]: r for r in rows}["ex-0"]
    assert row["answers"] == "a;a;b" and row["consensus_answer"] == "a" and row["consensus_confidence"] == "0.8"
    assert row["n_judgments"] == "3"
    assert "'=HYPERLINK(1)" in {r["external_id"] for r in rows}  # no formula injection
    for worker in workers:
        assert worker.email not in text


def test_gold_tasks_never_reach_the_preference_export(lab, project):
    gold = Task.objects.get(project=project, external_id="ex-9")
    Task.objects.filter(pk=gold.pk).update(status="complete")  # even if one were marked complete
    consensus(gold, {"choice": "b"}, 1.0)
    _, lines = export_lines(lab, f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
    assert [r["external_id"] for r in lines] == ["ex-0"]
    summary = lab.get(f"/api/v1/projects/{project.pk}/export/preferences/summary/").json()
    assert (summary["pairs"], summary["complete_tasks"], summary["open_tasks"]) == (1, 3, 1)


def test_task_data_edited_outside_validation_makes_no_broken_record(lab, project):
    """An admin edit can leave a response that is not a string: that task's pair is skipped, never a row
    with a null or a number where a trainer expects text (the headers, computed from the consensus, still
    count it: the one case where they and the body differ)."""
    task = Task.objects.get(project=project, external_id="ex-0")
    Task.objects.filter(pk=task.pk).update(data=dict(task.data, response_b=None))
    response, lines = export_lines(lab, f"/api/v1/projects/{project.pk}/export/preferences.jsonl")
    assert lines == [] and response["X-Export-Pairs"] == "1"
