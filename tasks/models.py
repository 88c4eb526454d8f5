"""Clients, projects, tasks, and the assignment queue's rows (assignments, judgments).

Invariants held here (docs/design.md 1, 2): one assignment per (task, worker) ever; a task's counted
assignments (live + submitted) never exceed its overlap. Services keep n_active in step with the
assignment rows inside the same transaction; the check constraint makes an overshoot impossible.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from rest_framework_api_key.models import AbstractAPIKey


def _new_secret() -> str:
    return secrets.token_hex(32)


class TaskType(models.TextChoices):
    PAIRWISE = "pairwise", "Pick the better of two responses"
    RANKING = "ranking", "Rank several responses"
    FLAGS = "flags", "Flag bugs from a taxonomy"
    RATING = "rating", "Rate on a scale"
    TEXT = "text", "Explain in text"
    FIX = "fix", "Fix or speed up code (checked by its tests)"


class Client(models.Model):
    """An organization (task source) that pushes projects and pulls results with API keys."""

    name = models.CharField(max_length=200, unique=True)
    is_active = models.BooleanField(default=True)
    callback_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=128, default=_new_secret)
    # Salt for per-client worker pseudonyms: the same worker looks different to two clients.
    pseudonym_salt = models.CharField(max_length=64, default=_new_secret, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClientAPIKey(AbstractAPIKey):
    """Stored hashed by djangorestframework-api-key; the key itself is shown once."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "client API key"
        verbose_name_plural = "client API keys"


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    label_schema = models.JSONField(default=dict, blank=True)
    instructions = models.TextField()
    data_use_statement = models.TextField(help_text="Shown to workers before they claim.")
    reward_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    overlap = models.PositiveSmallIntegerField(default=3, help_text="Judgments wanted per task.")
    max_overlap = models.PositiveSmallIntegerField(null=True, blank=True,
                                                   help_text="Dynamic overlap ceiling; empty = overlap.")
    confidence_threshold = models.FloatField(null=True, blank=True,
                                             help_text="Ask for another judgment while consensus is below this.")
    required_qualifications = models.ManyToManyField("workers.Skill", blank=True, related_name="projects")
    pool = models.ForeignKey("workers.Pool", null=True, blank=True, on_delete=models.PROTECT, related_name="projects")
    lease_seconds = models.PositiveIntegerField(default=900)
    gold_share = models.FloatField(default=0.0)
    priority = models.IntegerField(default=0)
    max_judgments_per_worker = models.PositiveIntegerField(null=True, blank=True,
                                                           help_text="Per-worker cap; empty = a default share.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # A review project (ranking) holds the peer reviews of a text project's answers (label_schema.review;
    # tasks.services.reviews). One per text project.
    review_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="review_project")
    deadline = models.DateTimeField(null=True, blank=True,
                                    help_text="When the client wants the work done; the ops console marks the "
                                              "project late when its pace would finish after it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1) & Q(overlap__lte=50), name="project_overlap_1_50"),
            models.CheckConstraint(condition=Q(gold_share__gte=0) & Q(gold_share__lte=1), name="project_gold_share_0_1"),
            models.CheckConstraint(condition=Q(lease_seconds__gte=30) & Q(lease_seconds__lte=86400),
                                   name="project_lease_30s_1d"),
            models.CheckConstraint(condition=Q(max_overlap__isnull=True) | Q(max_overlap__gte=F("overlap")),
                                   name="project_max_overlap_ge_overlap"),
            models.CheckConstraint(condition=Q(status__in=["draft", "active", "paused", "completed"]),
                                   name="project_status_valid"),
        ]
        indexes = [models.Index(fields=["client", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    # Gold tasks are answered by many workers (each answer measures that worker), so their "overlap" is a
    # ceiling rather than a target; they never complete.
    GOLD_OVERLAP = 10000

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"

    # No index of its own: (project, external_id) and (project, status) lead with it. Every claim rewrites
    # the task row (n_active), so each index here is written on every claim.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    external_id = models.CharField(max_length=255)
    data = models.JSONField()
    gold = models.JSONField(null=True, blank=True, help_text="Known answer; never shown to workers.")
    is_gold = models.BooleanField(default=False)
    # Who knows the gold answer: "" for gold given at upload (the client or ops), "execution" for gold the
    # sandbox proved (exactly one side of a pairwise task passes the task's tests; tasks.services.execution).
    gold_source = models.CharField(max_length=16, blank=True, default="", db_default="")  # raw bulk inserts too
    overlap = models.PositiveSmallIntegerField(help_text="Judgments wanted (grows with dynamic overlap).")
    # Live + submitted assignments that count toward overlap (kept by the queue services).
    n_active = models.PositiveSmallIntegerField(default=0)
    n_submitted = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.IntegerField(default=0, help_text="Raised as the task ages so nothing starves.")
    # The part of `priority` that the age_tasks job added; kept apart so the job can recompute it from the
    # task's age (idempotent) instead of adding to it on every run.
    age_boost = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="task_external_id_unique_per_project"),
            models.CheckConstraint(condition=Q(n_active__lte=F("overlap")), name="task_never_over_overlap"),
            models.CheckConstraint(condition=Q(n_submitted__lte=F("n_active")), name="task_submitted_le_active"),
            models.CheckConstraint(condition=Q(status__in=["open", "complete"]), name="task_status_valid"),
        ]
        indexes = [
            models.Index(fields=["project", "status"]),
            # A project's tasks in id order: the keyset walks of the results stream and the exports
            # (tasks.selectors.results.keyset_chunks) read each chunk as one range of this index.
            models.Index(fields=["project", "id"], name="task_project_id"),
            # The claim path: claimable real tasks of a project in serving order (closest to overlap, then
            # priority, then age). Partial, so full and complete tasks leave the index and a claim stops
            # at the first row it may take.
            models.Index(fields=["project", "-n_active", "-priority", "id"], name="task_claimable_order",
                         condition=Q(status="open", is_gold=False, n_active__lt=F("overlap"))),
            models.Index(fields=["project", "n_active", "id"], name="task_gold_claimable",
                         condition=Q(status="open", is_gold=True, n_active__lt=F("overlap"))),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.external_id}"


class Assignment(models.Model):
    """A worker's claim on a task slot. LIVE and SUBMITTED count toward the task's overlap."""

    class Status(models.TextChoices):
        LIVE = "live", "Live (leased)"
        SUBMITTED = "submitted", "Submitted"
        RELEASED = "released", "Released by the worker"
        EXPIRED = "expired", "Lease expired"
        REQUEUED = "requeued", "Judgment discarded by quality review"

    # No single-column indexes on the three keys: (task, worker), (worker, status) and (project, worker)
    # lead with them, and every claim and submit writes each index of this table.
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments",
                               db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LIVE)
    served_reason = models.CharField(max_length=200, blank=True, help_text="Why the queue chose this task.")
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # On a gold check: the real task the worker would have been served instead. It counts as touched by the
    # worker (never served to them), as a real claim would have made it, so what the queue offers the worker
    # next (task, reason, "nothing left") is the same after a gold check as after real work.
    passed_over_task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                         db_index=False)

    class Meta:
        ordering = ["-claimed_at", "-id"]
        constraints = [
            # Invariant 1: at most one assignment per (task, worker), ever.
            models.UniqueConstraint(fields=["task", "worker"], name="one_assignment_per_task_worker"),
            models.CheckConstraint(condition=Q(status__in=["live", "submitted", "released", "expired", "requeued"]),
                                   name="assignment_status_valid"),
        ]
        indexes = [
            models.Index(fields=["worker", "status"]),
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["project", "worker"]),
            # Every claim counts the worker's live leases (all projects, and per project for the share cap):
            # only live rows are in it, so the count does not grow with the worker's history.
            models.Index(fields=["worker", "project"], name="assignment_live_by_worker", condition=Q(status="live")),
            # The claim's "not touched by this worker" probe, for the real tasks passed over by gold checks.
            models.Index(fields=["passed_over_task", "worker"], name="assignment_passed_over",
                         condition=Q(passed_over_task__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Judgment(models.Model):
    """A submitted answer. Approved judgments count toward the task and are paid."""

    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected (quality review)"

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="judgment")
    # No single-column indexes on the three keys: (task, worker), (project, id) and (worker, project) lead
    # with them, and every submit writes each index of this table.
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="judgments", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="judgments", db_index=False)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgments",
                               db_index=False)
    answer = models.JSONField()
    # Measured by the server: submitted (created_at) minus the assignment's claimed_at, in seconds. What the
    # quality rules, the hourly pay figures and clients' results read.
    seconds_spent = models.FloatField(null=True, blank=True, help_text="Measured by the server: claim to submit.")
    # What the worker said they spent (optional, never trusted by any rule): kept for ops to compare.
    reported_seconds = models.FloatField(null=True, blank=True, help_text="What the worker reported; never trusted.")
    is_gold = models.BooleanField(default=False)
    gold_correct = models.BooleanField(null=True, blank=True, help_text="For gold tasks: matched the gold answer.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPROVED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "worker"], name="one_judgment_per_task_worker"),
            models.CheckConstraint(condition=Q(seconds_spent__isnull=True) | Q(seconds_spent__gte=0),
                                   name="judgment_seconds_non_negative"),
            models.CheckConstraint(condition=Q(reported_seconds__isnull=True) | Q(reported_seconds__gte=0),
                                   name="judgment_reported_seconds_non_negative"),
        ]
        indexes = [
            models.Index(fields=["project", "id"]),
            models.Index(fields=["worker", "project"]),
            # The share cap's submitted part, counted on every claim: an index-only count, no task lookups.
            # Gold judgments count too: a cap that skipped them would tell a worker which claims were gold.
            models.Index(fields=["worker", "project"], name="judgment_share_count_all",
                         condition=Q(status="approved")),
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk} on {self.task_id}"


class TaskExclusion(models.Model):
    """A worker the claim never serves this task to (the claim query reads it, both queue backends): the
    authors of the answers a review task ranks never review their own answers."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="exclusions", db_index=False)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        ordering = ["task", "worker"]
        constraints = [models.UniqueConstraint(fields=["task", "worker"], name="one_exclusion_per_task_worker")]

    def __str__(self) -> str:
        return f"worker {self.worker_id} excluded from task {self.task_id}"


class AnswerReview(models.Model):
    """The review task (a ranking task in the source project's review project) over one text task's answers.

    Unique per source task: the job that creates it (tasks.jobs.reviews.task_review_create) is safe to run
    twice. `judgment_ids[i]` is the judgment shown as the review task's responses[i]; the task data itself
    names no author."""

    source_task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="answer_review")
    review_task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="reviewed_answers")
    judgment_ids = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source_task"]

    def __str__(self) -> str:
        return f"review of task {self.source_task_id} by task {self.review_task_id}"


class CompletionRun(models.Model):
    """One completion of a pairwise task (side a or b) run against the task's tests in the sandbox.

    Unique per (task, side): the job that writes it (tasks.jobs.execution) is safe to run twice, and a
    rerun with a newer runner replaces the row (update_or_create)."""

    class Status(models.TextChoices):
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed (an assertion or a case)"
        ERROR = "error", "Error (syntax, exception)"
        TIMEOUT = "timeout", "Timed out (CPU or wall limit)"
        KILLED = "killed", "Killed (output limit)"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="completion_runs")
    side = models.CharField(max_length=1)
    status = models.CharField(max_length=16, choices=Status.choices)
    passed = models.BooleanField()
    failures = models.TextField(blank=True, help_text="Why it did not pass: the limit, the case, stderr's tail.")
    duration = models.FloatField(default=0.0, help_text="Wall seconds of the sandboxed run(s).")
    runner_version = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "side"]
        constraints = [
            models.UniqueConstraint(fields=["task", "side"], name="one_completion_run_per_task_side"),
            models.CheckConstraint(condition=Q(side__in=["a", "b"]), name="completion_run_side_a_b"),
            models.CheckConstraint(condition=Q(passed=True, status="passed") | (Q(passed=False) & ~Q(status="passed")),
                                   name="completion_run_passed_iff_status_passed"),
        ]

    def __str__(self) -> str:
        return f"run of {self.task_id}:{self.side} ({self.status})"


class FixRun(models.Model):
    """A fix task's answer (the worker's edited code) run against the task's tests in the sandbox.

    One per judgment (the job that writes it, tasks.jobs.execution.run_fix, is safe to run twice). Its
    verdict is also written to the judgment's gold_correct, the field quality reads as graded evidence."""

    judgment = models.OneToOneField(Judgment, on_delete=models.CASCADE, related_name="fix_run")
    status = models.CharField(max_length=16, choices=CompletionRun.Status.choices)
    passed = models.BooleanField()
    failures = models.TextField(blank=True)
    duration = models.FloatField(default=0.0)
    runner_version = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["judgment"]
        constraints = [
            models.CheckConstraint(condition=Q(passed=True, status="passed") | (Q(passed=False) & ~Q(status="passed")),
                                   name="fix_run_passed_iff_status_passed"),
        ]

    def __str__(self) -> str:
        return f"fix run of judgment {self.judgment_id} ({self.status})"


class WebhookDelivery(models.Model):
    """One event to deliver to a client's callback URL (task.completed, project.completed).

    Unique per (client, event_key): enqueuing the same event twice (a job delivered twice, a completion
    reported twice) delivers it once. Each HTTP attempt is a WebhookAttempt row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (attempts exhausted)"
        SKIPPED = "skipped", "Skipped (no callback URL or refused URL)"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event = models.CharField(max_length=32)
    event_key = models.CharField(max_length=100, help_text="Identity of the event, e.g. task.completed:123.")
    event_id = models.UUIDField(unique=True, help_text="Sent to the client so it can deduplicate.")
    payload = models.JSONField()
    url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["client", "event_key"], name="one_webhook_delivery_per_event"),
            models.CheckConstraint(condition=Q(status__in=["pending", "delivered", "failed", "skipped"]),
                                   name="webhook_delivery_status_valid"),
        ]
        indexes = [models.Index(fields=["client", "-created_at"]), models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.client} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what was sent, what came back (append-only log)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=500)
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_webhook_attempt_per_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class WorkNotification(models.Model):
    """A "there is work for you" mail sent to a worker: the rate limit of notify_work_available reads it
    (at most one mail per worker per QUEUE_NOTIFY_MIN_INTERVAL_SECONDS, whatever the project)."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="work_notifications")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="work_notifications")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["worker", "-sent_at"])]

    def __str__(self) -> str:
        return f"work notice to {self.worker_id} for project {self.project_id}"
