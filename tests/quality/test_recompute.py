"""The project recompute: figures stored, rules applied with their actions, incremental and idempotent."""

import pytest
from django.db.models import Count

from payments.models import EarningsHold
from payments.selectors import worker_earnings_summary
from payments.services import earnings_credit_judgment
from quality.models import (
    Flag,
    ProjectAgreement,
    ProjectQualityPolicy,
    QualityAuditEvent,
    TaskConsensus,
    WorkerStanding,
)
from quality.selectors import project_agreement_get, task_consensus_get, worker_standing_get
from quality.services import project_quality_recompute, project_refit_needed, projects_changed
from tasks.models import Assignment, Judgment, Task
from tests.quality import factories as f
from workers.models import Pool, PoolMembership, WorkerProfile

pytestmark = pytest.mark.django_db
# A milder policy: the rules that could suspend an always-"a" rater only ever open a review flag.
NEVER_SUSPEND = {"same_answer": {"suspend_p_value": 0.0}, "agreement": {"suspend_p_value": 0.0},
                 "random": {"suspend_log_lr": 1000}}


def _state():
    """Everything the recompute writes, as comparable plain data."""
    return {
        "consensus": sorted(TaskConsensus.objects.values_list("task_id", "answer", "confidence", "method", "n_judgments"), key=repr),
        "agreement": list(ProjectAgreement.objects.values_list("project_id", "alpha", "fleiss_kappa", "n_tasks",
                                                               "n_judgments")),
        "standings": sorted(WorkerStanding.objects.values_list("worker_id", "project_id", "status", "n_judgments",
                                                               "loo_agreement", "gold_n", "gold_correct"), key=repr),
        "flags": sorted(Flag.objects.values_list("worker_id", "project_id", "rule", "severity", "status"), key=repr),
        "judgments": sorted(Judgment.objects.values_list("id", "status"), key=repr),
        "holds": sorted(EarningsHold.objects.values_list("flag_id", "amount_cents", "status"), key=repr),
    }


def test_always_a_worker_is_flagged_suspended_and_requeued_honest_workers_are_not():
    project, honest, spammer, tasks, golds = f.pairwise_crowd()
    for j in Judgment.objects.filter(worker=spammer):
        earnings_credit_judgment(judgment_id=j.pk)
    # A new worker's credits wait for their work to be checked (pay follows evidence): the flag holds them.
    balance_before = worker_earnings_summary(user=spammer)["pending_clearance_cents"]
    assert balance_before == 10 * 64

    assert project_quality_recompute(project_id=project.pk) is True

    flag = Flag.objects.get(worker=spammer)
    assert flag.severity == "suspend" and flag.status == "open"
    same = next(x for x in flag.evidence["findings"] if x["rule"] == "same_answer")
    assert same["answer"] == "a" and same["count"] == 64 and same["p_value"] < 1e-6 and same["level"] == "suspend"
    assert flag.rule in {x["rule"] for x in flag.evidence["findings"]}
    assert not Flag.objects.filter(worker__in=honest).exists()
    # Actions: suspended platform-wide (the project has no pool), judgments on real tasks requeued, earnings held.
    assert WorkerProfile.objects.get(user=spammer).status == "suspended"
    requeued = set(flag.actions["requeued_judgment_ids"])
    assert requeued == set(Judgment.objects.filter(worker=spammer, is_gold=False).values_list("id", flat=True))
    assert set(Judgment.objects.filter(pk__in=requeued).values_list("status", flat=True)) == {"rejected"}
    assert set(Assignment.objects.filter(judgment__in=requeued).values_list("status", flat=True)) == {"requeued"}
    assert Task.objects.filter(pk__in=[t.pk for t in tasks], status="open").count() == len(tasks)  # regained overlap
    assert flag.actions["held_cents"] == balance_before
    assert worker_earnings_summary(user=spammer)["held_cents"] == balance_before
    assert set(QualityAuditEvent.objects.filter(flag=flag).values_list("action", flat=True)) >= {
        "flag_opened", "worker_suspended", "judgments_requeued", "earnings_held"}

    standing = worker_standing_get(user=spammer)
    assert standing["status"] == "suspended"
    assert {"rule": "same_answer", "level": "suspend"}.items() <= standing["reasons"][0].items() or any(
        r["rule"] == "same_answer" and r["level"] == "suspend" for r in standing["reasons"])
    assert all(worker_standing_get(user=w)["status"] in ("good", "watch") for w in honest)
    agreement = project_agreement_get(project_id=project.pk)
    assert agreement["level"] == "nominal" and agreement["n_tasks"] == len(tasks) and agreement["alpha"] is not None
    consensus = task_consensus_get(task_ids=[t.pk for t in tasks] + [g.pk for g in golds])
    assert len(consensus) == len(tasks) + len(golds)
    assert {c["method"] for c in consensus.values()} == {"dawid_skene", "gold"}
    assert consensus[golds[0].pk]["answer"] == golds[0].gold


def test_recompute_twice_leaves_the_same_state_and_unchanged_projects_are_skipped():
    project, *_ = f.pairwise_crowd(n_tasks=30, seed=2)
    other, *_ = f.pairwise_crowd(n_tasks=10, seed=3, spammer_answer=None)
    assert projects_changed() == sorted([project.pk, other.pk])
    project_quality_recompute(project_id=project.pk)
    first = _state()
    assert projects_changed() == [other.pk]  # the requeue changed no judgment count since the run recorded it
    assert project_quality_recompute(project_id=project.pk) is False  # unchanged: skipped
    assert project_quality_recompute(project_id=project.pk, force=True) is True  # forced: same state
    assert _state() == first
    assert Flag.objects.values("worker", "project", "rule").annotate(n=Count("id")).filter(n__gt=1).count() == 0


def test_a_new_judgment_makes_the_project_due_again():
    project, honest, spammer, tasks, _ = f.pairwise_crowd(n_tasks=12, seed=4, spammer_answer=None)
    project_quality_recompute(project_id=project.pk)
    assert projects_changed() == []
    extra = f.task(project)
    f.judge(extra, honest[0], {"choice": "a"})
    assert projects_changed() == [project.pk]


def test_review_level_only_holds_and_pool_scope_suspends_in_the_pool():
    pool = Pool.objects.create(name="reviewers")
    project, honest, spammer, tasks, _ = f.pairwise_crowd(n_tasks=60, seed=5, project_kwargs={"pool": pool})
    for w in honest + [spammer]:
        PoolMembership.objects.create(pool=pool, worker=w)
    # A milder policy for this project: never suspend, only review.
    ProjectQualityPolicy.objects.create(project=project, rules=NEVER_SUSPEND)
    project_quality_recompute(project_id=project.pk)
    flag = Flag.objects.get(worker=spammer)
    assert flag.severity == "review" and "requeued_judgment_ids" not in flag.actions and "held_cents" in flag.actions
    assert PoolMembership.objects.get(worker=spammer).status == "active"
    assert not Judgment.objects.filter(status="rejected").exists()

    # Lift the policy: the next run escalates the same open flag (no second flag) and suspends in the pool.
    ProjectQualityPolicy.objects.filter(project=project).update(rules={})
    project_quality_recompute(project_id=project.pk, force=True)
    flag.refresh_from_db()
    assert Flag.objects.filter(worker=spammer).count() == 1 and flag.severity == "suspend"
    assert flag.actions["pool_suspended"] == pool.pk
    assert PoolMembership.objects.get(worker=spammer).status == "suspended"
    assert WorkerProfile.objects.filter(user=spammer, status="suspended").count() == 0


def test_too_little_evidence_only_watches():
    project, honest, spammer, tasks, _ = f.pairwise_crowd(n_tasks=8, n_gold=0, seed=6)
    project_quality_recompute(project_id=project.pk)
    assert not Flag.objects.exists()
    standing = WorkerStanding.objects.get(worker=spammer, project=project)
    assert standing.status == "watch" and {r["level"] for r in standing.reasons} == {"watch"}


def test_a_task_whose_judgments_were_all_requeued_loses_its_stale_consensus():
    project = f.project()
    task = f.task(project)
    spam = [f.worker() for _ in range(3)]
    f.judge_many([(task, w, {"choice": "a"}, 20.0) for w in spam])
    project_quality_recompute(project_id=project.pk)
    assert TaskConsensus.objects.filter(task=task).exists()
    Judgment.objects.filter(task=task).update(status="rejected")
    assert projects_changed() == []  # a status change alone is not read from the judgments table...
    project_refit_needed(project_id=project.pk)  # ...the requeue path marks the project (flags._apply)
    assert projects_changed() == [project.pk]
    project_quality_recompute(project_id=project.pk)
    assert not TaskConsensus.objects.filter(task=task).exists()
    assert project_agreement_get(project_id=project.pk)["n_judgments"] == 0


def test_an_invalid_project_policy_is_refused_by_the_admin_and_ignored_by_the_job():
    from django.core.exceptions import ValidationError

    project, honest, spammer, tasks, _ = f.pairwise_crowd(n_tasks=30, seed=8)
    policy = ProjectQualityPolicy(project=project, rules={"same_answer": {"min_n": "many"}})
    with pytest.raises(ValidationError) as exc:
        policy.full_clean()
    assert "same_answer.min_n" in str(exc.value)
    policy.save()  # written around the admin: the job logs it and uses the platform rules
    assert project_quality_recompute(project_id=project.pk) is True
    assert Flag.objects.filter(worker=spammer).exists()


def _review_flag_in_pool(seed: int):
    """A spammer flagged at "review" severity (hold only) in a pooled project."""
    pool = Pool.objects.create(name=f"reviewers-{seed}")
    project, honest, spammer, tasks, _ = f.pairwise_crowd(n_tasks=60, seed=seed, project_kwargs={"pool": pool})
    for w in honest + [spammer]:
        PoolMembership.objects.create(pool=pool, worker=w)
    ProjectQualityPolicy.objects.create(project=project, rules=NEVER_SUSPEND)
    project_quality_recompute(project_id=project.pk)
    flag = Flag.objects.get(worker=spammer)
    assert flag.severity == "review"
    return pool, spammer, flag


def test_confirming_a_review_flag_suspends_and_requeues_the_rater():
    from quality.services.flags import flag_resolve

    ops_user = f.worker()
    pool, spammer, flag = _review_flag_in_pool(seed=15)
    assert PoolMembership.objects.get(worker=spammer).status == "active"
    flag_resolve(flag_id=flag.pk, decision="confirm", note="checked by hand", actor_id=ops_user.pk)
    flag.refresh_from_db()
    assert flag.status == "confirmed"
    # The confirmed rater stops working (suspended in the pool) and their unfinished work goes back to the queue.
    assert PoolMembership.objects.get(worker=spammer).status == "suspended"
    assert flag.actions["requeued_judgment_ids"]
    assert Judgment.objects.filter(worker=spammer, status="rejected").count() == len(flag.actions["requeued_judgment_ids"])


def test_dismissing_a_flag_lifts_the_pool_suspension_it_caused():
    from quality.services.flags import flag_resolve

    ops_user = f.worker()
    pool, spammer, flag = _review_flag_in_pool(seed=16)
    ProjectQualityPolicy.objects.filter(project=flag.project).update(rules={})
    project_quality_recompute(project_id=flag.project_id, force=True)
    flag.refresh_from_db()
    assert flag.severity == "suspend" and PoolMembership.objects.get(worker=spammer).status == "suspended"
    flag_resolve(flag_id=flag.pk, decision="dismiss", note="false alarm", actor_id=ops_user.pk)
    flag.refresh_from_db()
    assert PoolMembership.objects.get(worker=spammer).status == "active"
    assert flag.actions.get("pool_reinstated") is True and "missing" not in flag.actions
    from workers.models import WorkerAuditEvent

    assert WorkerAuditEvent.objects.filter(worker=spammer, action="pool_reinstate", pool=pool).count() == 1
