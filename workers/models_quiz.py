"""Qualification quizzes: a bank of questions per skill, and attempts that draw from it.

Answer keys (Question.correct) never leave the server for workers: attempts store which questions were
drawn and the shuffled option order, and the worker answers with per-attempt labels (a, b, c, ...)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Quiz(models.Model):
    skill = models.OneToOneField("workers.Skill", on_delete=models.PROTECT, related_name="quiz")
    slug = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    pass_mark = models.FloatField(default=0.8, help_text="Weighted score (0-1) needed to pass.")
    questions_per_attempt = models.PositiveIntegerField(default=8)
    time_limit_seconds = models.PositiveIntegerField(default=900)
    cooldown_seconds = models.PositiveIntegerField(default=86400, help_text="Wait after a failed attempt.")
    max_failed_attempts = models.PositiveIntegerField(
        null=True, blank=True, default=3, help_text="Failed attempts after which ops must step in; empty = no cap.")
    validity_days = models.PositiveIntegerField(null=True, blank=True, default=365,
                                                help_text="How long a pass qualifies; empty = forever.")
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "quizzes"
        constraints = [
            models.CheckConstraint(condition=Q(pass_mark__gt=0) & Q(pass_mark__lte=1), name="quiz_pass_mark_0_1"),
            models.CheckConstraint(condition=Q(questions_per_attempt__gte=1), name="quiz_draws_at_least_one"),
            models.CheckConstraint(condition=Q(time_limit_seconds__gte=10), name="quiz_time_limit_min"),
        ]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single choice"
        MULTIPLE = "multiple", "Multiple choice (all correct options)"
        PICK_BETTER = "pick_better", "Pick the better snippet"

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    prompt = models.TextField()
    code = models.TextField(blank=True, help_text="Snippet shown with the prompt.")
    # [{"key": "a", "text": "...", "code": "..."}]: keys are the author's; workers see per-attempt labels.
    options = models.JSONField()
    # Keys of the correct options (one for single and pick_better). Never sent to workers.
    correct = models.JSONField()
    weight = models.PositiveIntegerField(default=1)
    explanation = models.TextField(blank=True, help_text="For authors; never shown to workers.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["quiz", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["single", "multiple", "pick_better"]), name="question_kind_valid"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="question_weight_positive"),
        ]

    def __str__(self) -> str:
        return self.prompt[:60]


class QuizAttempt(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Expired (not submitted in time)"

    quiz = models.ForeignKey(Quiz, on_delete=models.PROTECT, related_name="attempts")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    seed = models.BigIntegerField(help_text="Seed of the draw, so an attempt can be reproduced.")
    # [{"question": id, "options": [author keys in the order shown as a, b, c, ...]}]
    drawn = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One open attempt per worker and quiz: a double click on "start" cannot open two.
            models.UniqueConstraint(fields=["worker", "quiz"], condition=Q(status="open"), name="one_open_attempt"),
            models.CheckConstraint(
                condition=Q(status="open", submitted_at__isnull=True, score__isnull=True, passed__isnull=True)
                | (~Q(status="open") & Q(submitted_at__isnull=False, score__isnull=False, passed__isnull=False)),
                name="attempt_graded_iff_closed",
            ),
        ]
        indexes = [models.Index(fields=["worker", "quiz", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.worker} · {self.quiz.slug} · {self.status}"
