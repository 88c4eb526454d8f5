"""Quality: per-task consensus, per-project agreement, per-worker standings, flags and their audit log.

Everything here is derived from tasks' judgments by the jobs in quality/jobs.py and can be recomputed:
the only records that hold decisions are Flag (what a rule found and what ops decided) and
QualityAuditEvent (append-only: what the system or a person did, and why).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class TaskConsensus(models.Model):
    """The aggregated answer of one task, with a confidence in [0, 1] and the method that produced it."""

    class Method(models.TextChoices):
        MAJORITY = "majority", "Majority vote"
        DAWID_SKENE = "dawid_skene", "Dawid-Skene"
        FLAGS_DAWID_SKENE = "flags_dawid_skene", "Per-flag Dawid-Skene"
        BRADLEY_TERRY = "bradley_terry", "Bradley-Terry"
        MEDIAN = "median", "Median score"
        GOLD = "gold", "Known answer"
        NONE = "none", "No aggregation (free text)"

    task = models.OneToOneField("tasks.Task", on_delete=models.CASCADE, related_name="consensus")
    project = models.ForeignKey("tasks.Project", on_delete=models.CASCADE, related_name="consensuses")
    answer = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    method = models.CharField(max_length=24, choices=Method.choices)
    n_judgments = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "task consensuses"
        constraints = [
            models.CheckConstraint(condition=Q(confidence__isnull=True) | (Q(confidence__gte=0) & Q(confidence__lte=1)),
                                   name="consensus_confidence_0_1"),
        ]
        indexes = [models.Index(fields=["project", "confidence"])]

    def __str__(self) -> str:
        return f"consensus of task {self.task_id} ({self.method})"


class ProjectAgreement(models.Model):
    """Inter-rater agreement of one project (GET /api/v1/projects/{id}/agreement/)."""

    project = models.OneToOneField("tasks.Project", on_delete=models.CASCADE, related_name="agreement")
    alpha = models.FloatField(null=True, blank=True, help_text="Krippendorff's alpha; empty when undefined.")
    level = models.CharField(max_length=16, help_text="nominal, ordinal, interval or ratio.")
    fleiss_kappa = models.FloatField(null=True, blank=True)
    n_tasks = models.PositiveIntegerField(default=0)
    n_judgments = models.PositiveIntegerField(default=0)
    # Flags projects whose answers point at lines: line-level agreement (quality.scoring.span_agreement_figures:
    # alpha over per-line labels, F1 and Jaccard of line sets per category). Empty for other projects.
    spans = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"agreement of project {self.project_id}"


class ProjectQualityState(models.Model):
    """The incremental recompute's watermark: the highest judgment id seen by the last run."""

    project = models.OneToOneField("tasks.Project", on_delete=models.CASCADE, related_name="quality_state")
    watermark_judgment_id = models.BigIntegerField(default=0)
    # Judgments can change status (requeued -> rejected) without a new id; their count catches that.
    n_judgments_seen = models.PositiveIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    # Fitted Dawid-Skene parameters {classes, priors, confusions: {worker_id: KxK}, pooled: KxK}: lets the
    # per-task job score a task that just completed without refitting the whole project.
    model = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"quality state of project {self.project_id}"


class ProjectQualityPolicy(models.Model):
    """Per-project overrides of settings.QUALITY_RULES (same keys; anything missing falls back)."""

    project = models.OneToOneField("tasks.Project", on_delete=models.CASCADE, related_name="quality_policy")
    rules = models.JSONField(default=dict, blank=True,
                             help_text='e.g. {"gold": {"upper_below": 0.6}, "fast": {"enabled": false}}')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "project quality policies"

    def __str__(self) -> str:
        return f"quality policy of project {self.project_id}"

    def clean(self):
        from django.core.exceptions import ValidationError

        from quality.rules import rules_errors

        errors = rules_errors(self.rules)
        if errors:
            raise ValidationError({"rules": [f"{where}: {'; '.join(msgs)}" for where, msgs in errors.items()]})


class WorkerStanding(models.Model):
    """A worker's measured quality in one project (project set) or across all projects (project empty)."""

    class Status(models.TextChoices):
        GOOD = "good", "Good"
        WATCH = "watch", "Watch"
        FLAGGED = "flagged", "Flagged for review"
        SUSPENDED = "suspended", "Suspended"

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quality_standings")
    project = models.ForeignKey("tasks.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="worker_standings")
    n_judgments = models.PositiveIntegerField(default=0)
    gold_n = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    gold_accuracy = models.FloatField(null=True, blank=True)
    gold_lower = models.FloatField(null=True, blank=True, help_text="Wilson interval, lower bound.")
    gold_upper = models.FloatField(null=True, blank=True, help_text="Wilson interval, upper bound.")
    loo_agreement = models.FloatField(null=True, blank=True,
                                      help_text="Share of tasks where the worker matched the others' consensus.")
    loo_n = models.PositiveIntegerField(default=0)
    pool_loo_agreement = models.FloatField(null=True, blank=True, help_text="The project's median of loo_agreement.")
    median_seconds = models.FloatField(null=True, blank=True)
    top_answer_share = models.FloatField(null=True, blank=True,
                                         help_text="Share of the worker's most frequent answer (e.g. always 'a').")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.GOOD)
    reasons = models.JSONField(default=list, blank=True)
    gold_share = models.FloatField(
        null=True, blank=True,
        help_text="Share of this worker's claims in the project served as gold (adaptive gold, quality.gold): "
                  "the project's gold_share when there is no doubt about them, up to the cap. Ops only.")
    random_log_lr = models.FloatField(
        null=True, blank=True,
        help_text="The random-answering test's log likelihood ratio (random : honest; quality.rules.rule_random) at "
                  "the last full fit: above 0, the worker's answers so far are likelier random than honest. Empty "
                  "where the schema has no such test or nothing was scored yet. Ops only.")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "project"], condition=Q(project__isnull=False),
                                    name="one_standing_per_worker_project"),
            models.UniqueConstraint(fields=["worker"], condition=Q(project__isnull=True),
                                    name="one_global_standing_per_worker"),
            models.CheckConstraint(condition=Q(status__in=["good", "watch", "flagged", "suspended"]),
                                   name="standing_status_valid"),
        ]
        indexes = [models.Index(fields=["project", "status"])]

    def __str__(self) -> str:
        return f"{self.worker} in {self.project_id or 'all projects'}: {self.status}"


class Flag(models.Model):
    """A rule found a worker's quality wanting: ops confirm (suspended, work requeued, held earnings
    forfeited) or dismiss (hold released, reinstated)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"

    class Severity(models.TextChoices):
        REVIEW = "review", "Review"
        SUSPEND = "suspend", "Suspended pending review"

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quality_flags")
    project = models.ForeignKey("tasks.Project", on_delete=models.CASCADE, related_name="quality_flags")
    rule = models.CharField(max_length=32)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.REVIEW)
    evidence = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # What the system did when it opened the flag: {"pool_suspended": id, "worker_suspended": bool,
    # "requeued_judgment_ids": [...], "held_cents": n} plus "errors": [...] for levers that refused (older
    # flags may say "missing": [...], from when the apps were built side by side).
    actions = models.JSONField(default=dict, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one open flag per worker and project (the beat job may run twice, rules may agree):
            # ops review one case with all its findings.
            models.UniqueConstraint(fields=["worker", "project"], condition=Q(status="open"),
                                    name="one_open_flag_per_worker_project"),
            models.CheckConstraint(condition=Q(status__in=["open", "confirmed", "dismissed"]), name="flag_status_valid"),
            models.CheckConstraint(condition=Q(severity__in=["review", "suspend"]), name="flag_severity_valid"),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True) | (~Q(status="open") & Q(resolved_at__isnull=False)),
                name="flag_resolved_iff_not_open"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"]), models.Index(fields=["worker", "project"])]

    def __str__(self) -> str:
        return f"flag {self.pk}: {self.rule} on {self.worker} ({self.status})"


class QualityAuditEvent(models.Model):
    """Append-only: what a rule or a person did about a worker's quality, and why."""

    class Action(models.TextChoices):
        FLAG_OPENED = "flag_opened", "Flag opened"
        POOL_SUSPENDED = "pool_suspended", "Suspended in pool"
        WORKER_SUSPENDED = "worker_suspended", "Suspended"
        JUDGMENTS_REQUEUED = "judgments_requeued", "Judgments requeued"
        EARNINGS_HELD = "earnings_held", "Earnings held"
        FLAG_CONFIRMED = "flag_confirmed", "Flag confirmed"
        FLAG_DISMISSED = "flag_dismissed", "Flag dismissed"
        HOLD_RELEASED = "hold_released", "Hold released"
        HOLD_FORFEITED = "hold_forfeited", "Hold forfeited"
        WORKER_REINSTATED = "worker_reinstated", "Reinstated"
        ACTION_UNAVAILABLE = "action_unavailable", "Action not available"
        OVERLAP_EXTENDED = "overlap_extended", "Overlap extended"

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="Empty when the system acted.")
    action = models.CharField(max_length=24, choices=Action.choices)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="quality_audit_events")
    project = models.ForeignKey("tasks.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    flag = models.ForeignKey(Flag, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["worker", "-at"])]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"


class ExplanationScore(models.Model):
    """A text answer's peer-review score (issue 29): its Bradley-Terry strength among the answers of its task,
    as a share (the scores of one task's answers sum to 1), and its rank (1 = best), fitted from the
    rankings of the review task (quality.services.reviews). Ops read it per author in the admin."""

    judgment = models.OneToOneField("tasks.Judgment", on_delete=models.CASCADE, related_name="explanation_score")
    task = models.ForeignKey("tasks.Task", on_delete=models.CASCADE, related_name="explanation_scores")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="explanation_scores")
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField()
    n_reviews = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["task", "rank"]
        indexes = [models.Index(fields=["worker", "-computed_at"])]
        constraints = [models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1),
                                              name="explanation_score_0_1")]

    def __str__(self) -> str:
        return f"judgment {self.judgment_id}: rank {self.rank} ({self.score:.3f})"
