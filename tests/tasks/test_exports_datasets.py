"""The exports load cleanly in the tools people train with: Hugging Face `datasets` (what TRL's DPO trainer
consumes) for the JSONL files, pandas for results.csv.

Each export is downloaded through the API into a local file and loaded exactly as a client would
(`load_dataset("json", data_files=path)`), offline: nothing is fetched from a hub. Then the columns and
types a DPO trainer expects are checked: a row count equal to the pairs, no None anywhere, strings (or
role/content messages) for prompt/chosen/rejected, one type per column. `chunksize=64` makes the loader
read every line as its own block (as it does with 10 MB blocks of a large file): the schema inferred from
the first block must fit all the others, so a type that varies from row to row fails here.
"""

import os

import pytest

# Before `datasets` is imported: it reads these once. A test that tried to reach a hub would fail.
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

datasets = pytest.importorskip("datasets")
pd = pytest.importorskip("pandas")

from django.utils import timezone  # noqa: E402

from quality import models as quality_models  # noqa: E402
from tasks.models import Task  # noqa: E402
from tests.conftest import make_user  # noqa: E402
from tests.tasks.client_support import ClientSession, add_judgment, make_project, pair  # noqa: E402

pytestmark = pytest.mark.django_db
Value, List, Json, Features = datasets.Value, datasets.List, datasets.Json, datasets.Features

STRING, FLOAT, INT = Value("string"), Value("float64"), Value("int64")
STANDARD = {"prompt": STRING, "chosen": STRING, "rejected": STRING, "confidence": FLOAT, "n_raters": INT,
            "external_id": STRING, "language": STRING, "chosen_execution": STRING, "rejected_execution": STRING}
USER = List({"role": STRING, "content": STRING})
CONVERSATIONAL = dict(STANDARD, prompt=USER, chosen=USER, rejected=USER)
# What docs/tasks.md tells clients to pass for results.jsonl: answers differ by task type and by row
# (optional keys), consensus is null until computed, so those two are JSON values; every chunk then fits.
RESULTS_FEATURES = Features({
    "external_id": STRING, "status": STRING, "is_gold": Value("bool"), "gold_source": STRING,
    "completed_at": Value("timestamp[ms, tz=UTC]"),
    "judgments": List({"worker": STRING, "answer": Json(), "seconds": FLOAT}),
    "consensus": Json(), "execution": Json(),
})


def test_datasets_runs_offline():
    assert datasets.config.HF_DATASETS_OFFLINE is True and datasets.config.HF_HUB_OFFLINE is True


def consensus(task, answer, confidence=0.9, n=3):
    quality_models.TaskConsensus.objects.create(task=task, project=task.project, answer=answer, confidence=confidence,
                                                method="majority", n_judgments=n, computed_at=timezone.now())


@pytest.fixture
def lab():
    return ClientSession("Lab A")


@pytest.fixture
def pairwise(lab):
    """ex-0..5 complete with a or b consensus (confidence 1.0 on ex-0: a float, not an int, in the file),
    ex-6 a tie, ex-7 no consensus, ex-8 open, ex-9 gold."""
    project = make_project(lab.client_row)
    lab.upload_jsonl(project.pk, [pair(i) for i in range(9)] + [pair(9, gold={"choice": "a"})])
    tasks = {t.external_id: t for t in Task.objects.filter(project=project)}
    workers = [make_user(f"rater{i}@example.com") for i in range(3)]
    for i in range(8):
        for w in workers:
            add_judgment(tasks[f"ex-{i}"], w, {"choice": "ab"[i % 2], **({"strength": 2} if i == 3 else {})},
                         seconds=None if i == 2 else 10.0 + i)
    Task.objects.filter(project=project, external_id__in=[f"ex-{i}" for i in range(8)]).update(
        status="complete", completed_at=timezone.now())
    for i in range(6):
        consensus(tasks[f"ex-{i}"], {"choice": "ab"[i % 2]}, 1.0 if i == 0 else 0.5 + i / 20, n=3 - (i == 5))
    consensus(tasks["ex-6"], {"choice": "tie"}, 0.7)
    return project


@pytest.fixture
def ranking(lab):
    project = make_project(lab.client_row, task_type="ranking", label_schema={})
    lab.upload_jsonl(project.pk, [{"external_id": f"r{i}", "data": {"prompt": f"p{i}", "language": "python",
                                                                      "responses": ["x", "y", "z", "w"][:3 + i % 2]}}
                                  for i in range(3)])
    Task.objects.filter(project=project).update(status="complete", completed_at=timezone.now())
    for i, task in enumerate(Task.objects.filter(project=project).order_by("id")):
        consensus(task, {"order": [2, 0, 1] if i % 2 == 0 else [3, 1, 0, 2]}, 0.6)
    return project


def download(lab, path, tmp_path, name):
    response = lab.get(path)
    assert response.status_code == 200, response.content
    file = tmp_path / name
    file.write_bytes(b"".join(response.streaming_content))
    return response, file


def load(file, tmp_path, **kw):
    return datasets.load_dataset("json", data_files=str(file), split="train", cache_dir=str(tmp_path / "hf"), **kw)


def assert_no_none(ds):
    for row in ds:
        assert all(value is not None for value in row.values()), row


def assert_dpo_standard(ds, n_pairs):
    assert ds.num_rows == n_pairs
    assert dict(ds.features) == STANDARD
    assert_no_none(ds)
    assert all(row["prompt"] and row["chosen"] != row["rejected"] for row in ds)


def is_conversational(example) -> bool:
    """TRL's test (trl.data_utils.is_conversational): a list of dicts with role and content."""
    for key in ("prompt", "chosen", "rejected"):
        value = example.get(key)
        if isinstance(value, list) and value and isinstance(value[0], dict) and {"role", "content"} <= set(value[0]):
            continue
        return False
    return True


@pytest.mark.parametrize("chunksize", [10 << 20, 64])
def test_standard_preferences_load_as_a_dpo_dataset(lab, pairwise, tmp_path, chunksize):
    response, file = download(lab, f"/api/v1/projects/{pairwise.pk}/export/preferences.jsonl", tmp_path, "p.jsonl")
    ds = load(file, tmp_path, chunksize=chunksize)
    assert_dpo_standard(ds, n_pairs=6)
    assert int(response["X-Export-Pairs"]) == ds.num_rows
    assert "_summary" not in ds.column_names
    assert ds[0]["confidence"] == 1.0 and sorted(set(ds["n_raters"])) == [2, 3]
    data = Task.objects.get(project=pairwise, external_id="ex-1").data
    row = ds.filter(lambda r: r["external_id"] == "ex-1")[0]
    assert (row["prompt"], row["chosen"], row["rejected"]) == (data["prompt"], data["response_b"], data["response_a"])


@pytest.mark.parametrize("chunksize", [10 << 20, 64])
def test_conversational_preferences_load_as_a_dpo_dataset(lab, pairwise, tmp_path, chunksize):
    _, file = download(lab, f"/api/v1/projects/{pairwise.pk}/export/preferences.jsonl?style=conversational",
                       tmp_path, "c.jsonl")
    ds = load(file, tmp_path, chunksize=chunksize)
    assert ds.num_rows == 6 and dict(ds.features) == CONVERSATIONAL
    assert_no_none(ds)
    for row in ds:
        assert is_conversational(row)
        assert [m["role"] for m in row["prompt"]] == ["user"]
        assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == ["assistant"]


def test_filtered_preferences_load_with_the_same_schema(lab, pairwise, tmp_path):
    response, file = download(lab, f"/api/v1/projects/{pairwise.pk}/export/preferences.jsonl?min_confidence=0.61"
                                   f"&min_raters=3", tmp_path, "f.jsonl")
    ds = load(file, tmp_path)
    # ex-0 (1.0), ex-3 (0.65), ex-4 (0.7) pass; ex-5 has 2 raters, ex-1 (0.55) and ex-2 (0.6) are under.
    assert sorted(ds["external_id"]) == ["ex-0", "ex-3", "ex-4"]
    assert_dpo_standard(ds, n_pairs=3)
    assert min(ds["confidence"]) >= 0.61 and min(ds["n_raters"]) >= 3
    assert response["X-Export-Pairs"] == "3" and response["X-Export-Filtered-Out"] == "3"


@pytest.mark.parametrize("style", ["standard", "conversational"])
def test_ranking_preferences_load_with_every_implied_pair(lab, ranking, tmp_path, style):
    _, file = download(lab, f"/api/v1/projects/{ranking.pk}/export/preferences.jsonl?style={style}", tmp_path,
                       "r.jsonl")
    ds = load(file, tmp_path, chunksize=64)
    assert ds.num_rows == 3 + 6 + 3  # 3, 4 and 3 responses: n(n-1)/2 pairs each
    assert dict(ds.features) == (STANDARD if style == "standard" else CONVERSATIONAL)
    assert_no_none(ds)


def test_empty_export_is_an_empty_file(lab, tmp_path):
    project = make_project(lab.client_row)
    response, file = download(lab, f"/api/v1/projects/{project.pk}/export/preferences.jsonl", tmp_path, "e.jsonl")
    assert file.read_bytes() == b"" and response["X-Export-Pairs"] == "0"


def test_results_jsonl_loads_with_datasets(lab, pairwise, tmp_path):
    _, file = download(lab, f"/api/v1/projects/{pairwise.pk}/results/?format=jsonl", tmp_path, "results.jsonl")
    ds = load(file, tmp_path)
    assert ds.num_rows == 10
    assert ds.column_names == ["external_id", "status", "is_gold", "gold_source", "completed_at", "judgments", "consensus",
                               "execution"]
    assert ds.features["external_id"] == STRING and ds.features["is_gold"] == Value("bool")
    by_id = {row["external_id"]: row for row in ds}
    assert by_id["ex-1"]["consensus"]["answer"] == {"choice": "b"} and by_id["ex-7"]["consensus"] is None
    assert [j["answer"]["choice"] for j in by_id["ex-0"]["judgments"]] == ["a", "a", "a"]


def test_results_jsonl_loads_block_by_block_with_the_documented_features(lab, pairwise, tmp_path):
    """With the features docs/tasks.md gives, every block is cast to one schema: open tasks (no
    consensus, no completed_at) before complete ones, answers with and without optional keys."""
    _, file = download(lab, f"/api/v1/projects/{pairwise.pk}/results/?format=jsonl", tmp_path, "results.jsonl")
    lines = file.read_text().splitlines()
    file.write_text("\n".join(sorted(lines, key=lambda line: '"consensus":null' not in line)) + "\n")
    ds = load(file, tmp_path, chunksize=64, features=RESULTS_FEATURES)
    assert ds.num_rows == 10
    by_id = {row["external_id"]: row for row in ds}
    assert by_id["ex-8"]["consensus"] is None and by_id["ex-8"]["completed_at"] is None
    assert by_id["ex-3"]["judgments"][0]["answer"] == {"choice": "b", "strength": 2}
    assert by_id["ex-2"]["judgments"][0]["seconds"] is None
    assert by_id["ex-0"]["consensus"] == {"answer": {"choice": "a"}, "confidence": 1.0}
    completed_at = Task.objects.get(project=pairwise, external_id="ex-0").completed_at
    assert abs(by_id["ex-0"]["completed_at"] - completed_at).total_seconds() < 0.001  # milliseconds on the wire


def test_results_csv_loads_with_pandas(lab, pairwise, tmp_path):
    _, file = download(lab, f"/api/v1/projects/{pairwise.pk}/export/results.csv", tmp_path, "results.csv")
    df = pd.read_csv(file)
    assert list(df.columns) == ["external_id", "status", "is_gold", "completed_at", "n_judgments", "answers",
                                "consensus_answer", "consensus_confidence", "judgments_json", "consensus_spans"]
    assert len(df) == 10
    assert df["is_gold"].dtype == bool and df["n_judgments"].dtype == "int64"
    assert df["consensus_confidence"].dtype == "float64"
    row = df.set_index("external_id").loc["ex-1"]
    assert row["answers"] == "b;b;b" and row["consensus_answer"] == "b" and row["n_judgments"] == 3
    assert pd.isna(df.set_index("external_id").loc["ex-7", "consensus_confidence"])
    completed = pd.to_datetime(df["completed_at"], utc=True, format="ISO8601")
    assert completed.notna().sum() == 8
