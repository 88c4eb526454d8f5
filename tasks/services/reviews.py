"""Peer review of text answers (issue 29): a text project whose label schema has `review` gets, for each of
its tasks that completes with enough approved answers, one ranking task over those answers in the project's
review project, served to other workers only (the authors are TaskExclusion rows, read by the claim query).

The review project is a ranking project of the same client (Project.review_of), made on first use with the
source project's pay, pool, qualifications and lease. Its tasks are ordinary ranking tasks: the ranking page,
the queue and quality's Bradley-Terry consensus serve them as any other; quality then scores the answers
(quality.services.reviews) and the best one becomes the text task's consensus.
"""

from django.db import IntegrityError, transaction

from marketplace.outbox import outbox_enqueue
from tasks.models import AnswerReview, Judgment, Project, Task, TaskExclusion
from tasks.services.projects import project_reopen_if_completed

REVIEW_JOB = "tasks.jobs.reviews.task_review_create"
REVIEW_INSTRUCTIONS = ("Rank these explanations of the code, best first: correct, complete and clear beats "
                       "long. They were written by other workers; judge the explanation, not its style.")


def review_settings(project: Project) -> dict | None:
    """The project's review settings ({mode, min_answers, overlap}) or None when its answers are not reviewed."""
    if project.task_type != "text" or not isinstance(project.label_schema, dict):
        return None
    return project.label_schema.get("review")


def task_review_enqueue(*, task: Task) -> bool:
    """Record the review job of a completed text task in the outbox (published after the commit). Nothing for a
    project without review, a gold task or a review task. Returns whether a job was recorded."""
    if task.is_gold or task.status != Task.Status.COMPLETE or review_settings(task.project) is None:
        return False
    with transaction.atomic():
        outbox_enqueue(REVIEW_JOB, task.pk)
    return True


def _review_project(source: Project, settings: dict) -> Project:
    existing = Project.objects.filter(review_of=source).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            project = Project.objects.create(
                client_id=source.client_id, name=f"{source.name} (review)"[:200], task_type="ranking",
                label_schema={}, instructions=REVIEW_INSTRUCTIONS, data_use_statement=source.data_use_statement,
                reward_cents=source.reward_cents, currency=source.currency, overlap=settings["overlap"],
                pool_id=source.pool_id, lease_seconds=source.lease_seconds, priority=source.priority,
                max_judgments_per_worker=source.max_judgments_per_worker, review_of=source)
            project.required_qualifications.set(source.required_qualifications.all())
            return project
    except IntegrityError:  # made meanwhile by another run (Project.review_of is unique)
        return Project.objects.get(review_of=source)


def task_review_create(*, task_id: int) -> AnswerReview | None:
    """Make the review task of a completed text task, once: its data lists the approved answers (texts only,
    in judgment order, no author), its exclusions are their authors. One transaction holding the source task's
    row lock; safe to run twice (AnswerReview.source_task is unique: a second run returns the first's row).
    None when the task has no review (project without review, gold, fewer answers than min_answers)."""
    task = Task.objects.select_related("project").filter(pk=task_id).first()
    if task is None or task.is_gold or task.status != Task.Status.COMPLETE:
        return None
    settings = review_settings(task.project)
    if settings is None:
        return None
    answers = list(Judgment.objects.filter(task_id=task.pk, status=Judgment.Status.APPROVED)
                   .order_by("id").values_list("id", "worker_id", "answer"))
    if len(answers) < settings["min_answers"]:
        return None
    answers = answers[:20]  # a ranking task holds at most 20 responses
    review_project = _review_project(task.project, settings)
    with transaction.atomic():
        Task.objects.select_for_update().filter(pk=task.pk).first()
        done = AnswerReview.objects.filter(source_task_id=task.pk).first()
        if done is not None:
            return done
        data = task.data if isinstance(task.data, dict) else {}
        question = data.get("question") or "Which explanation of this code is best?"
        review_task = Task.objects.create(
            project=review_project, external_id=f"review-of-{task.pk}", overlap=settings["overlap"],
            data={"prompt": f"{question}\n\n{data.get('code', '')}".strip(), "language": data.get("language", ""),
                  "code": data.get("code", ""), "responses": [answer.get("text", "") for _, _, answer in answers]})
        TaskExclusion.objects.bulk_create([TaskExclusion(task=review_task, worker_id=worker_id)
                                           for worker_id in {w for _, w, _ in answers}])
        review = AnswerReview.objects.create(source_task=task, review_task=review_task,
                                             judgment_ids=[pk for pk, _, _ in answers])
        project_reopen_if_completed(project_id=review_project.pk)  # new work reopens it, as an upload does
    return review
