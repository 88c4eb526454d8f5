"""Line-anchored flags (issue 29): agreement and consensus of spans against values worked by hand, then the
same figures through the recompute, the per-task consensus, the agreement API, the results API and the CSV."""

import csv
import io

import numpy as np
import pytest

from quality.metrics import krippendorff_alpha, line_alpha, line_overlap, span_consensus
from quality.models import ProjectAgreement, TaskConsensus
from quality.services.consensus import task_consensus_compute
from quality.services.loading import encode_spans
from quality.services.recompute import project_quality_recompute
from tasks.models import Task
from tests.quality import factories as f

OFF, VAR = 0, 1  # category codes: off_by_one, wrong_variable


def test_overlapping_unequal_ranges_two_raters():
    """Two raters on a 4-line task: R1 flags lines 1-2 off_by_one, R2 lines 2-3 off_by_one.

    Per-line labels (N = no flag, B = {off_by_one}): R1 = B B N N, R2 = N B B N.
    Coincidences (each line one pair, weight 1 / (m - 1) = 1, both orders): line 1 (B,N) gives o_BN = o_NB = 1;
    line 2 (B,B) o_BB = 2; line 3 (N,B) o_BN = o_NB = 1 more; line 4 (N,N) o_NN = 2.
    o = [[BB 2, BN 2], [NB 2, NN 2]]; n_B = 4, n_N = 4, n = 8.
    alpha = 1 - (n - 1) * (o_BN + o_NB) / (n_B n_N + n_N n_B) = 1 - 7 * 4 / 32 = 1 - 0.875 = 0.125.
    Line sets for off_by_one: A = {1, 2}, B = {2, 3}: |A & B| = 1, |A| + |B| = 4, |A | B| = 3;
    F1 = 2 * 1 / 4 = 0.5, Jaccard = 1 / 3.
    Consensus (more than half of 2 raters = both): line 2 only, support 2/2 = 1.0."""
    items, spans = [0, 0], [[(1, 2, OFF)], [(2, 3, OFF)]]
    alpha, n_lines, n_tasks = line_alpha(items, spans, np.array([4]))
    assert alpha == pytest.approx(0.125)
    assert (n_lines, n_tasks) == (4, 1)
    overlap = line_overlap(items, spans, n_categories=2)
    assert overlap["categories"] == {OFF: {"f1": pytest.approx(0.5), "jaccard": pytest.approx(1 / 3), "pairs": 1}}
    assert overlap["f1"] == pytest.approx(0.5) and overlap["jaccard"] == pytest.approx(1 / 3)
    assert span_consensus(spans, 4) == [(2, 2, OFF, 1.0)]
    # The same labels as a (raters, units) matrix give the same alpha through the general function.
    assert krippendorff_alpha([[1, 1, 0, 0], [0, 1, 1, 0]], level="nominal") == pytest.approx(0.125)


def test_three_raters_consensus_support_and_pooled_overlap():
    """Three raters, 4 lines: R1 1-2, R2 2-3, R3 1-3, all off_by_one.

    Raters per line: line 1: R1, R3 = 2; line 2: 3; line 3: R2, R3 = 2; line 4: 0. More than half of 3 is
    2 or more: lines 1-3 form one consensus span; its support is the smallest share, 2/3.
    Pairs: (R1,R2): A={1,2} B={2,3}: inter 1, sizes 4, union 3. (R1,R3): {1,2} vs {1,2,3}: inter 2, sizes 5,
    union 3. (R2,R3): {2,3} vs {1,2,3}: inter 2, sizes 5, union 3. Pooled F1 = 2 * 5 / 14 = 5/7,
    Jaccard = 5 / 9.
    Alpha: line 1 values (B, N, B), line 2 (B, B, B), line 3 (N, B, B), line 4 (N, N, N); m = 3, weight 1/2.
    Line 1: ordered pairs BN: 2 (B1-N, B3-N) and NB: 2, BB: 2 (B1-B3 both orders), each x 1/2:
    o_BN += 1, o_NB += 1, o_BB += 1. Line 2: 6 ordered BB pairs x 1/2 = 3. Line 3 like line 1: o_BN += 1,
    o_NB += 1, o_BB += 1. Line 4: o_NN += 3. o_BB = 5, o_BN = o_NB = 2, o_NN = 3; n_B = 7, n_N = 5, n = 12.
    alpha = 1 - (n - 1) * 4 / (2 * 7 * 5) = 1 - 44 / 70 = 26/70 = 0.371428..."""
    items, spans = [0, 0, 0], [[(1, 2, OFF)], [(2, 3, OFF)], [(1, 3, OFF)]]
    assert span_consensus(spans, 4) == [(1, 3, OFF, pytest.approx(2 / 3))]
    overlap = line_overlap(items, spans, n_categories=2)
    assert overlap["f1"] == pytest.approx(5 / 7) and overlap["jaccard"] == pytest.approx(5 / 9)
    assert overlap["pairs"] == 3
    alpha, _, _ = line_alpha(items, spans, np.array([4]))
    assert alpha == pytest.approx(26 / 70)


def test_two_categories_on_one_line_is_its_own_value_and_no_flag_raters_count():
    """Task of 3 lines. R1: off_by_one 1-2 and wrong_variable 2-2; R2 says no problem (all N); R3:
    off_by_one 1-1.

    Per-line labels: R1 = {O} {O,V} N; R2 = N N N; R3 = {O} N N. Values: O, OV, N.
    Line 1 (O, N, O): weight 1/2: o_ON += 1, o_NO += 1, o_OO += 1. Line 2 (OV, N, N): o_OV,N += 1,
    o_N,OV += 1, o_NN += 1. Line 3 (N, N, N): o_NN += 3. Values: O twice (line 1), OV once, N six times:
    n_O = 2, n_OV = 1, n_N = 6, n = 9. Observed disagreement (off-diagonal sum) = 4. Expected: sum over
    ordered distinct value pairs of n_c n_k = 2 (2*1 + 2*6 + 1*6) = 40.
    alpha = 1 - (n - 1) * 4 / 40 = 1 - 32/40 = 0.2.
    Overlap: off_by_one pairs (R1,R2): {1,2} vs {}: inter 0, sizes 2; (R1,R3): {1,2} vs {1}: inter 1,
    sizes 3; (R2,R3): {} vs {1}: inter 0, sizes 1. F1 = 2/6 = 1/3, Jaccard = 1 / (6 - 1) = 1/5.
    wrong_variable: (R1,R2) inter 0 sizes 1, (R1,R3) inter 0 sizes 1: F1 = 0, 2 pairs.
    Consensus: off_by_one line 1 has 2 of 3 raters: span 1-1, support 2/3; line 2 has 1 of 3: out."""
    items = [0, 0, 0]
    spans = [[(1, 2, OFF), (2, 2, VAR)], [], [(1, 1, OFF)]]
    alpha, n_lines, _ = line_alpha(items, spans, np.array([3]))
    assert alpha == pytest.approx(0.2) and n_lines == 3
    overlap = line_overlap(items, spans, n_categories=2)
    assert overlap["categories"][OFF] == {"f1": pytest.approx(1 / 3), "jaccard": pytest.approx(1 / 5), "pairs": 3}
    assert overlap["categories"][VAR] == {"f1": 0.0, "jaccard": 0.0, "pairs": 2}
    assert span_consensus(spans, 3) == [(1, 1, OFF, pytest.approx(2 / 3))]


def test_not_localising_judgments_are_left_out_and_one_rater_has_no_pair():
    """A judgment that names problems without lines (None) is not read as "no flag everywhere": with it
    left out, the task has one localising rater and nothing is pairable (alpha undefined, no pairs)."""
    alpha, n_lines, n_tasks = line_alpha([0, 0], [[(1, 2, OFF)], None], np.array([5]))
    assert np.isnan(alpha) and (n_lines, n_tasks) == (0, 0)
    assert line_overlap([0, 0], [[(1, 2, OFF)], None], n_categories=2)["pairs"] == 0
    # A rater's own overlapping spans of one category count each line once.
    assert span_consensus([[(1, 3, OFF), (2, 4, OFF)], [(3, 3, OFF)]], 5) == [(3, 3, OFF, 1.0)]


def test_encode_spans_of_stored_answers():
    classes = ["off_by_one", "wrong_variable", "none"]
    assert encode_spans({"flags": ["off_by_one"], "spans": [
        {"start_line": 2, "end_line": 4, "category": "off_by_one"}]}, classes) == [(2, 4, 0)]
    assert encode_spans({"flags": []}, classes) == []
    assert encode_spans({"flags": ["none"]}, classes) == []
    assert encode_spans({"flags": ["off_by_one"]}, classes) is None  # old answer: names a problem, no lines
    assert encode_spans({"flags": [], "spans": [{"start_line": 1, "end_line": 1, "category": "gone"}]},
                        classes) is None  # a category the taxonomy lost since: skipped, never a crash


CODE = "def last(xs):\n    i = len(xs)\n    return xs[i]\n\nprint(last([1]))\n"  # 5 lines


def _flags_project():
    project = f.project(task_type="flags", overlap=3,
                        label_schema={"taxonomy": ["off_by_one", "wrong_variable", "none"]})
    tasks = [Task.objects.create(project=project, external_id=f"f{i}", overlap=3,
                                 data={"code": CODE, "language": "python"}) for i in range(2)]
    return project, tasks


def _span(a, b, category="off_by_one"):
    return {"start_line": a, "end_line": b, "category": category}


@pytest.mark.django_db
def test_recompute_stores_span_agreement_and_consensus_spans():
    """Task f0: R1 2-3, R2 3-3, R3 2-3 off_by_one (5 lines). Task f1: R1 3-3, R2 says none, R3 names
    off_by_one without lines (left out of line figures).

    f0 consensus: line 2 has 2 of 3, line 3 has 3 of 3: span 2-3, support 2/3.
    f1 localising raters: R1, R2. Line 3 has 1 of 2 (not more than half): consensus spans [].
    Overlap pairs, f0: (R1,R2) {2,3} vs {3}: inter 1, sizes 3; (R1,R3) inter 2, sizes 4; (R2,R3) inter 1,
    sizes 3. f1: (R1,R2) {3} vs {}: inter 0, sizes 1. Totals inter 4, sizes 11: F1 = 8/11, Jaccard = 4/7.
    Alpha over 10 lines: f0 lines 1,4,5 (N,N,N): o_NN += 3 each = 9; line 2 (B,N,B): o_BB 1, o_BN 1, o_NB 1;
    line 3 (B,B,B): o_BB 3. f1 (m = 2, weight 1): line 3 (B,N): o_BN 1, o_NB 1; lines 1,2,4,5 (N,N): o_NN 2 each
    = 8. o_BB = 4, o_BN = o_NB = 2, o_NN = 17; n_B = 6, n_N = 19, n = 25.
    alpha = 1 - 24 * 4 / (2 * 6 * 19) = 1 - 96/228 = 132/228 = 0.578947..."""
    project, (t0, t1) = _flags_project()
    r1, r2, r3 = f.worker(), f.worker(), f.worker()
    f.judge_many([
        (t0, r1, {"flags": ["off_by_one"], "spans": [_span(2, 3)]}, 10.0),
        (t0, r2, {"flags": ["off_by_one"], "spans": [_span(3, 3)]}, 10.0),
        (t0, r3, {"flags": ["off_by_one"], "spans": [_span(2, 3)]}, 10.0),
        (t1, r1, {"flags": ["off_by_one"], "spans": [_span(3, 3)]}, 10.0),
        (t1, r2, {"flags": ["none"]}, 10.0),
        (t1, r3, {"flags": ["off_by_one"]}, 10.0),
    ])
    assert project_quality_recompute(project_id=project.pk, force=True)
    spans = ProjectAgreement.objects.get(project=project).spans
    assert spans["alpha"] == pytest.approx(132 / 228)
    assert spans["f1"] == pytest.approx(8 / 11) and spans["jaccard"] == pytest.approx(4 / 7)
    assert (spans["n_tasks"], spans["n_lines"], spans["n_judgments"], spans["level"]) == (2, 10, 5, "nominal")
    assert spans["categories"] == {"off_by_one": {"f1": pytest.approx(8 / 11), "jaccard": pytest.approx(4 / 7),
                                                  "pairs": 4}}
    c0 = TaskConsensus.objects.get(task=t0).answer
    assert c0["flags"] == ["off_by_one"]
    assert c0["spans"] == [{"start_line": 2, "end_line": 3, "category": "off_by_one", "support": 0.6667}]
    assert TaskConsensus.objects.get(task=t1).answer["spans"] == []

    # The per-task consensus (at completion) gives the same spans.
    assert task_consensus_compute(task_id=t0.pk)["answer"]["spans"] == c0["spans"]


@pytest.mark.django_db
def test_a_project_without_spans_keeps_its_consensus_shape():
    project, (t0, _) = _flags_project()
    f.judge_many([(t0, f.worker(), {"flags": flags}, 5.0) for flags in (["off_by_one"], ["off_by_one"], [])])
    project_quality_recompute(project_id=project.pk, force=True)
    assert TaskConsensus.objects.get(task=t0).answer == {"flags": ["off_by_one"]}
    assert ProjectAgreement.objects.get(project=project).spans is None


@pytest.mark.django_db
def test_results_api_agreement_and_csv_carry_spans():
    from tests.tasks.client_support import ClientSession

    lab = ClientSession("Span lab")
    project, (t0, _) = _flags_project()
    project.client = lab.client_row
    project.save(update_fields=["client"])
    raters = [f.worker() for _ in range(3)]
    f.judge_many([(t0, w, {"flags": ["off_by_one"], "spans": [_span(2, 3)]}, 10.0) for w in raters[:2]]
                 + [(t0, raters[2], {"flags": ["none"]}, 10.0)])
    project_quality_recompute(project_id=project.pk, force=True)

    results = lab.get(f"/api/v1/projects/{project.pk}/results/").json()["results"]
    row = next(r for r in results if r["external_id"] == "f0")
    assert row["consensus"]["answer"]["spans"] == [
        {"start_line": 2, "end_line": 3, "category": "off_by_one", "support": 0.6667}]
    assert row["judgments"][0]["answer"]["spans"] == [_span(2, 3)]

    agreement = lab.get(f"/api/v1/projects/{project.pk}/agreement/").json()
    # Pairs: (R1,R2) {2,3} vs {2,3}: inter 2, sizes 4; (R1,R3) and (R2,R3) {2,3} vs {}: inter 0, sizes 2.
    # F1 = 4/8 = 0.5; Jaccard = 2 / (8 - 2) = 1/3. Alpha: lines 2, 3 (B, B, N), weight 1/2: o_BB, o_BN, o_NB
    # += 1 each, twice; lines 1, 4, 5 (N, N, N): o_NN += 3 each. n_B = 4, n_N = 11, n = 15:
    # alpha = 1 - 14 * 4 / (2 * 4 * 11) = 32/88.
    assert agreement["spans"]["f1"] == pytest.approx(0.5) and agreement["spans"]["jaccard"] == pytest.approx(1 / 3)
    assert agreement["spans"]["pairs"] == 3 and agreement["spans"]["alpha"] == pytest.approx(32 / 88)

    response = lab.get(f"/api/v1/projects/{project.pk}/export/results.csv")
    text = b"".join(response.streaming_content).decode()
    rows = {r["external_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["f0"]["consensus_spans"] == "2-3:off_by_one@0.6667"
    assert rows["f1"]["consensus_spans"] == ""
    assert '"spans"' in rows["f0"]["judgments_json"]
