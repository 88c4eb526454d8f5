"""Collusion groups through the recompute: flagged with ids ops can read, listed as a group with the tasks shared,
shown in plain words in the admin, counted as one voice, and counted in full again once ops dismiss the flags."""

import random

import pytest

from quality.admin import FlagAdmin
from quality.models import Flag
from quality.selectors import collusion_groups_list
from quality.services import flag_resolve, project_quality_recompute
from quality.services.loading import project_data_load
from tests.quality import factories as f

pytestmark = pytest.mark.django_db


def _ring_project(seed: int = 3):
    """12 honest raters (accuracy 0.85) and a ring of 3 giving one shared random answer per task: the ring fills
    20 tasks alone and 2 of the 3 slots on 12 more; 60 more tasks are honest only. Overlap 3, a/b."""
    rng = random.Random(seed)
    project = f.project()
    honest = [f.worker() for _ in range(12)]
    ring = [f.worker() for _ in range(3)]
    rows, tasks = [], []
    for n in range(92):
        t = f.task(project)
        tasks.append(t)
        truth = rng.choice("ab")
        shared = rng.choice("ab")
        if n < 20:
            raters = ring
        elif n < 32:
            raters = rng.sample(ring, 2) + rng.sample(honest, 1)
        else:
            raters = rng.sample(honest, 3)
        for w in raters:
            if w in ring:
                answer = shared
            else:
                answer = truth if rng.random() < 0.85 else ("b" if truth == "a" else "a")
            rows.append((t, w, {"choice": answer}, rng.uniform(20, 90)))
    gold = [f.task(project, gold={"choice": rng.choice("ab")}) for _ in range(4)]
    for g in gold:
        for w in honest:
            rows.append((g, w, g.gold, 30.0))
    f.judge_many(rows)
    return project, honest, ring, tasks


def test_a_ring_is_flagged_as_a_group_with_the_tasks_it_shared_and_ops_read_it():
    project, honest, ring, tasks = _ring_project()
    project_quality_recompute(project_id=project.pk)
    ring_ids = sorted(w.pk for w in ring)
    for w in ring:
        flag = Flag.objects.get(worker=w, project=project, status="open")
        finding = next(x for x in flag.evidence["findings"] if x["rule"] == "collusion")
        assert finding["group_workers"] == ring_ids  # ids, not the scoring's indexes
        assert set(finding["shared_tasks"]) == {t.pk for t in tasks[:32]}
        assert {p["partner"] for p in finding["pairs"]} == set(ring_ids) - {w.pk}
    # In Python, not a JSON contains lookup: SQLite (the no-services leg) has none.
    assert not [f for f in Flag.objects.filter(worker__in=honest)
                if any(x.get("rule") == "collusion" for x in (f.evidence or {}).get("findings", []))]
    groups = collusion_groups_list(project_id=project.pk)
    assert len(groups) == 1 and [m["id"] for m in groups[0]["workers"]] == ring_ids
    assert groups[0]["shared_tasks"] == sorted(t.pk for t in tasks[:32])
    text = FlagAdmin.collusion_group(None, Flag.objects.get(worker=ring[0], project=project))
    assert text.startswith("A group of 3 raters") and ring[1].email in text and str(tasks[0].pk) in text
    # Another project's groups are not listed here.
    assert collusion_groups_list(project_id=f.project().pk) == []


def test_dismissed_members_count_in_full_again():
    project, _, ring, _ = _ring_project(seed=4)
    project_quality_recompute(project_id=project.pk)
    for w in ring:
        flag = Flag.objects.get(worker=w, project=project, status="open")
        flag_resolve(flag_id=flag.pk, decision="dismiss", note="Checked: a team sharing a desk.", actor_id=None)
    loaded = project_data_load(project=project)
    assert {loaded.worker_ids[i] for i in loaded.data.collusion_cleared} == {w.pk for w in ring}
    assert collusion_groups_list(project_id=project.pk) == []
