"""Adaptive gold: a worker's gold share rises with the doubt about them, within the project's budget, falls back
once the doubt is resolved, is stored by the recompute and read by the claim's gold draw."""

import random

import numpy as np
import pytest

from quality.gold import doubt_from_log_lr, gold_shares, worker_gold_shares
from quality.models import WorkerStanding
from quality.rules import merge_rules

RULES = merge_rules()


def test_doubt_rises_toward_the_flag_and_is_resolved_either_way():
    doubt = doubt_from_log_lr([-5.0, -2.0, 0.0, 1.0, 2.9, 3.0, 8.0, np.nan], flag_log_lr=3.0, honest_log_lr=2.0)
    assert doubt[0] == doubt[1] == 0.0  # resolved: honest
    assert 0 < doubt[2] < doubt[3] < doubt[4] < 1  # the closer to a flag, the more doubt
    assert doubt[5] == doubt[6] == 0.0  # resolved: flagged, ops decide
    assert doubt[7] == pytest.approx(0.4)  # no test yet: the start (log LR 0)


@pytest.mark.parametrize("seed", range(20))
def test_shares_stay_within_floor_cap_and_budget(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    doubt = np.where(rng.random(n) < 0.3, rng.random(n), 0.0)
    weights = rng.integers(0, 100, n).astype(float)
    shares = gold_shares(doubt, weights, floor=0.05, cap=0.4, budget=0.03)
    assert np.all(shares >= 0.05 - 1e-12) and np.all(shares <= 0.4 + 1e-12)
    assert np.all(shares[doubt == 0] == 0.05)
    if weights.sum():
        assert (weights * shares).sum() / weights.sum() <= 0.05 + 0.03 + 1e-9  # the budget, on average
    # More doubt, more gold (never less).
    order = np.argsort(doubt)
    assert np.all(np.diff(shares[order]) >= -1e-12)


def test_a_clicker_gets_more_gold_than_honest_raters_and_the_floor_holds_without_doubt():
    honest = {"random_log_lr": -4.0, "random_n": 40, "n_judgments": 40, "findings": []}
    unsure = {"random_log_lr": 2.0, "random_n": 20, "n_judgments": 20, "findings": []}
    shares = worker_gold_shares([honest] * 9 + [unsure], floor=0.05, rules=RULES)
    assert shares[:9] == [0.05] * 9 and 0.05 < shares[9] <= RULES["adaptive_gold"]["cap"]
    flagged = {**unsure, "findings": [{"rule": "same_answer", "level": "review", "evidence": {}}]}
    assert worker_gold_shares([honest, flagged], floor=0.05, rules=RULES) == [0.05, 0.05]
    off = merge_rules({"adaptive_gold": {"enabled": False}})
    assert worker_gold_shares([honest, unsure], floor=0.05, rules=off) == [0.05, 0.05]


@pytest.mark.django_db
def test_recompute_stores_each_workers_share_and_ops_alone_see_it():
    from quality.selectors import worker_gold_shares as stored_shares
    from quality.selectors import worker_standing_get
    from quality.services import project_quality_recompute
    from tests.quality import factories as f

    project, honest, spammer, tasks, golds = f.pairwise_crowd(n_tasks=40, seed=21)
    project.gold_share = 0.05
    project.save(update_fields=["gold_share"])
    assert project_quality_recompute(project_id=project.pk)
    shares = stored_shares(worker_id=spammer.pk, project_ids=[project.pk])
    assert set(shares) == {project.pk} and 0.05 <= shares[project.pk] <= RULES["adaptive_gold"]["cap"]
    assert all(0.05 <= s <= RULES["adaptive_gold"]["cap"] for s in
               WorkerStanding.objects.filter(project=project).values_list("gold_share", flat=True))
    mine = worker_standing_get(user=spammer)
    assert mine is None or "gold_share" not in str(mine)  # the worker never sees it


@pytest.mark.django_db
def test_the_claim_draws_gold_at_the_workers_share(person):
    from django.utils import timezone

    from tasks.services.queue import assignment_claim
    from tasks.services.queue_leases import assignment_release
    from tests.tasks.test_queue_factories import make_project, make_tasks
    from tests.workers.factories import complete_profile, qualify

    project = make_project(overlap=3, gold_share=0.05)
    make_tasks(project, 20)
    gold = {t.pk for t in make_tasks(project, 20, gold=True)}

    def who(email):
        user = person(email).user
        complete_profile(user, skills=("python",))
        qualify(user, "python")
        return user

    doubted, trusted = who("doubted@example.com"), who("trusted@example.com")
    WorkerStanding.objects.create(worker=doubted, project=project, gold_share=0.4, computed_at=timezone.now())

    def served(user, n=12):
        rng = random.Random(7)
        got = []
        for _ in range(n):
            claim = assignment_claim(user=user, project_id=project.pk, rng=rng)
            got.append(claim.task_id in gold)
            assignment_release(user=user, assignment_id=claim.assignment_id)
        return sum(got)

    # The same random draws: 0.4 serves gold where 0.05 (the project's share, no standing yet) does not.
    assert served(doubted) > served(trusted)
