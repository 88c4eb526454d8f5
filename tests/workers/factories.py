"""Small builders for workers tests: a worker who is exactly as far along onboarding as a test needs."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tests.conftest import make_user
from workers.models import Qualification, Skill, WorkerProfile


def skill(slug: str = "python") -> Skill:
    return Skill.objects.get_or_create(slug=slug, defaults={"name": slug.title()})[0]


def complete_profile(user, *, skills=("python",)) -> WorkerProfile:
    profile, _ = WorkerProfile.objects.get_or_create(user=user)
    profile.display_name = "Ada"
    profile.country = "DE"
    profile.timezone = "Europe/Berlin"
    profile.accepted_terms_version = settings.TERMS_VERSION
    profile.accepted_terms_at = timezone.now()
    profile.save()
    profile.skills.set([skill(s) for s in skills])
    return profile


def qualify(user, slug: str = "python", *, score: float = 0.9, expires_in_days: int | None = 365) -> Qualification:
    now = timezone.now()
    expires = now + timedelta(days=expires_in_days) if expires_in_days is not None else None
    return Qualification.objects.update_or_create(
        worker=user, skill=skill(slug), defaults={"score": score, "granted_at": now, "expires_at": expires}
    )[0]


def ready_worker(email: str, *, skills=("python",), qualified=("python",)):
    user = make_user(email)
    complete_profile(user, skills=skills)
    for slug in qualified:
        qualify(user, slug)
    return user
