"""Telling idle, eligible workers that a project has work for them (so the workforce need not poll).

Guarantees: only workers who could claim a task of the project right now are mailed (the same rules as
the claim path: active, qualified in every required skill, in the pool, below the share cap, at least one
open real task they have not touched); only those who opted in (notify_new_work) and hold no live lease
(idle); at most one mail per worker per QUEUE_NOTIFY_MIN_INTERVAL_SECONDS whatever the project, enforced
under a row lock on the worker, so two notifier runs at once never mail one worker twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from tasks.models import Assignment, Project, Task, WorkNotification
from tasks.selectors.queue import COUNTED, project_share_cap, untouched_by
from workers.services.unsubscribe import unsubscribe_url

logger = logging.getLogger(__name__)


def _candidates(*, project: Project, now):
    from workers.selectors import workers_eligible_for

    skill_ids = list(project.required_qualifications.values_list("id", flat=True))
    untouched_open = Task.objects.filter(
        project=project, status=Task.Status.OPEN, is_gold=False, n_active__lt=F("overlap"),
    ).filter(untouched_by(OuterRef(OuterRef("pk")), lenient=True))
    recent = WorkNotification.objects.filter(
        worker=OuterRef("pk"), sent_at__gt=now - timedelta(seconds=settings.QUEUE_NOTIFY_MIN_INTERVAL_SECONDS))
    live = Assignment.objects.filter(worker=OuterRef("pk"), status=Assignment.Status.LIVE, expires_at__gt=now)
    cap = project_share_cap(project=project)
    # The worker's share of the project, per worker (a correlated count on (project, worker)), not a
    # GROUP BY over every candidate: a batch then reads the workers after the last one it mailed and stops
    # at QUEUE_NOTIFY_BATCH_SIZE, so a run costs the same per worker at 10k workers as at 100k.
    held = (Assignment.objects.filter(worker=OuterRef("pk"), project=project, status__in=COUNTED)
            .order_by().values("worker").annotate(n=Count("pk")).values("n"))
    return (workers_eligible_for(skill_ids=skill_ids, pool_id=project.pool_id)
            .filter(worker_profile__notify_new_work=True)
            .filter(Exists(untouched_open), ~Exists(recent), ~Exists(live))
            .annotate(held=Coalesce(Subquery(held), 0))
            .filter(held__lt=cap))


def _message(project: Project, user_id: int, email: str) -> EmailMessage:
    # Web links only (a freelancer reads this in a mail client, not a terminal), absolute from
    # PUBLIC_BASE_URL, and an unsubscribe link that works without signing in (RFC 8058 one-click, too).
    base = settings.PUBLIC_BASE_URL
    unsubscribe = unsubscribe_url(user_id=user_id)
    body = (f"Hello from {settings.SITE_NAME}!\n\n"
            f"There is work for you in \"{project.name}\" ({project.task_type}, "
            f"{project.reward_cents / 100:.2f} {project.currency.upper()} per judgment).\n\n"
            f"Read the brief and start: {base}{reverse('webapp:project', args=[project.pk])}\n\n"
            "You get at most one of these mails per hour. To stop them, open this link (no sign-in needed):\n"
            f"{unsubscribe}\n"
            f"or switch them off on your profile page: {base}{reverse('webapp:profile')}\n\n"
            f"{settings.SITE_NAME}\n{base}/\n")
    # A project name is the client's text: a line break in it would make Django refuse the whole batch
    # (BadHeaderError) after the workers were recorded as mailed. The subject keeps it on one line.
    name = " ".join(project.name.split())
    return EmailMessage(f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}New work: {name}", body,
                        settings.DEFAULT_FROM_EMAIL, [email],
                        headers={"List-Unsubscribe": f"<{unsubscribe}>",
                                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


def work_available_notify(*, project_id: int) -> int:
    """Mails the project's eligible idle workers (see the module docstring), in batches of
    QUEUE_NOTIFY_BATCH_SIZE; returns how many were mailed. Safe to run twice: the second run finds
    everyone within their rate limit. A mail is recorded before it is sent (at most once, not at least once)."""
    project = Project.objects.filter(pk=project_id, status=Project.Status.ACTIVE).first()
    if project is None:
        return 0
    sent = 0
    last_pk = 0
    User = get_user_model()
    while True:
        now = timezone.now()
        batch = list(_candidates(project=project, now=now).filter(pk__gt=last_pk)
                     .values_list("pk", flat=True)[:settings.QUEUE_NOTIFY_BATCH_SIZE])
        if not batch:
            return sent
        last_pk = batch[-1]
        with transaction.atomic():
            # Lock the workers, then re-check the rate limit under the lock: concurrent runs serialise here.
            locked = list(User.objects.select_for_update(no_key=True).filter(pk__in=batch).order_by("pk")
                          .values_list("pk", flat=True))
            due = list(_candidates(project=project, now=now).filter(pk__in=locked).values_list("pk", "email"))
            WorkNotification.objects.bulk_create(
                [WorkNotification(worker_id=pk, project=project, sent_at=now) for pk, _ in due])
        if due:
            messages = [_message(project, pk, email) for pk, email in due]
            try:
                get_connection().send_messages(messages)
            except Exception:  # a mail server outage must not fail the job for the next batch
                logger.exception("sending %d work notifications for project %s failed", len(messages), project_id)
            sent += len(due)
