"""The custom User (email login) and the platform-wide records every app relies on."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

OPS_GROUP = "ops"
FINANCE_GROUP = "finance"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who logs in with a password: freelancers, ops and finance staff. Clients use API keys."""

    email = models.EmailField(unique=True)
    is_staff = models.BooleanField(default=False, help_text="May log into the admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email

    def has_role(self, group_name: str) -> bool:
        if not self.is_active:
            return False
        if self.is_superuser:
            return True
        cached = getattr(self, "_role_cache", None)
        if cached is None:
            cached = set(self.groups.values_list("name", flat=True))
            self._role_cache = cached
        return group_name in cached

    @property
    def is_ops(self) -> bool:
        return self.has_role(OPS_GROUP)

    @property
    def is_finance(self) -> bool:
        return self.has_role(FINANCE_GROUP)


class Heartbeat(models.Model):
    """Last time each periodic Celery process proved it was alive; the health check reads it."""

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class OutboxEvent(models.Model):
    """A Celery job that a committed write must cause (the transactional outbox, marketplace.outbox).

    Written in the same transaction as the write, so the job exists if and only if the write committed;
    the relay publishes it to the broker (Celery task id outbox-<id>) and sets sent_at; the worker sets
    done_at when the job has finished (success or final failure). A job sent but not done after
    OUTBOX_REDELIVER_SECONDS is published again (the broker or a killed worker lost it), so delivery is at
    least once and every job is safe to run twice."""

    job = models.CharField(max_length=200, help_text="Celery task name, e.g. quality.jobs.task_consensus_compute.")
    args = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Last published to the broker.")
    done_at = models.DateTimeField(null=True, blank=True, help_text="The job finished (success or final failure).")
    publishes = models.PositiveIntegerField(default=0, help_text="Times published (more than 1: redelivered).")
    request_id = models.CharField(max_length=128, blank=True, default="",
                                  help_text="The request that caused the job; its log lines carry it too.")

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's scan: only rows not done (waiting or in flight), in id order; as small as the backlog.
            models.Index(fields=["id"], condition=models.Q(done_at__isnull=True), name="outbox_not_done"),
        ]

    def __str__(self) -> str:
        state = "done" if self.done_at else "sent" if self.sent_at else "pending"
        return f"{self.job}{tuple(self.args)} ({state})"


class IdempotencyKey(models.Model):
    """A write answered under an Idempotency-Key header (marketplace.idempotency): the same key from the
    same principal gets this answer again; the same key with another request is refused."""

    principal = models.CharField(max_length=64, help_text="user:<id> or client:<id>.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path, query and body.")
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=200)
    response_body = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_key_once_per_principal")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key} -> {self.status_code}"
