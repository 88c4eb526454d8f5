"""Freelancers: profiles, skills, qualifications, pools. Onboarding state is derived (selectors)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Skill(models.Model):
    """A language or competence a worker can be qualified in (python, javascript, ...)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class WorkerProfile(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        BANNED = "banned", "Banned"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="worker_profile")
    display_name = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA name, e.g. Europe/Berlin")
    skills = models.ManyToManyField(Skill, blank=True, related_name="claimed_by")
    accepted_terms_version = models.CharField(max_length=32, blank=True)
    accepted_terms_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(blank=True)
    # Set by payments (account.updated webhook) through workers.services; read by onboarding.
    payouts_enabled = models.BooleanField(default=False)
    notify_new_work = models.BooleanField(default=True, help_text="Mail me when there is work I can claim.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["active", "suspended", "banned"]), name="worker_status_valid"),
        ]

    def __str__(self) -> str:
        return self.display_name or str(self.user)


class Qualification(models.Model):
    """A worker is qualified in a skill (from a passed quiz, or granted by ops) until expires_at."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qualifications")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="qualifications")
    score = models.FloatField()
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "skill"], name="one_qualification_per_worker_skill"),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="qualification_score_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} · {self.skill} ({self.score:.2f})"


class Pool(models.Model):
    """A group of workers a project can be restricted to."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    required_skills = models.ManyToManyField(Skill, blank=True, related_name="pools")
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Most active members; empty = no limit")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PoolMembership(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="memberships")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pool_memberships")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    reason = models.TextField(blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pool", "worker"], name="one_membership_per_pool_worker"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} in {self.pool}"


class WorkerAuditEvent(models.Model):
    """Append-only record of what ops (or the system) did to a worker's standing, and why."""

    class Action(models.TextChoices):
        SUSPEND = "suspend", "Suspended"
        REINSTATE = "reinstate", "Reinstated"
        BAN = "ban", "Banned"
        POOL_ADD = "pool_add", "Added to pool"
        POOL_REMOVE = "pool_remove", "Removed from pool"
        POOL_SUSPEND = "pool_suspend", "Suspended in pool"
        POOL_REINSTATE = "pool_reinstate", "Reinstated in pool"

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_events")
    # Null when the system acted (e.g. a quality rule), not a person.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    pool = models.ForeignKey(Pool, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["worker", "-at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.worker} at {self.at:%Y-%m-%d %H:%M}"


class WorkerAppeal(models.Model):
    """A worker's message to ops about a suspension (issue 30 item 7): the web app's appeal form writes it
    (workers.services.appeals), ops read and close it in the admin. flag_id names the quality flag it is
    about when there is one: a plain number, since workers/ sits below quality/ and never imports it."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appeals")
    flag_id = models.PositiveBigIntegerField(null=True, blank=True)
    message = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["worker", "-created_at"])]

    def __str__(self) -> str:
        return f"appeal {self.pk} of {self.worker}"


# One app, models in two modules: importing them here registers them; models_quiz refers back to Skill by
# name ("workers.Skill"), so the two modules do not import each other.
from workers.models_quiz import Question, Quiz, QuizAttempt  # noqa: E402,F401
