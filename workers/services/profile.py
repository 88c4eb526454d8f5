"""The worker's own profile edits (PATCH /api/v1/me/)."""

from zoneinfo import available_timezones

import pycountry
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.errors import ValidationFailed
from workers.models import Skill, WorkerProfile
from workers.services.standing import worker_profile_ensure

_UNSET = object()


def _check_country(code: str) -> str:
    code = code.strip().upper()
    if code and pycountry.countries.get(alpha_2=code) is None:
        raise ValidationFailed(f"Unknown country code {code!r}.",
                               fields={"country": ["Not an ISO 3166-1 alpha-2 code (e.g. DE, IN, US)."]})
    return code


def _check_timezone(name: str) -> str:
    name = name.strip()
    if name and name not in available_timezones():
        raise ValidationFailed(f"Unknown time zone {name!r}.",
                               fields={"timezone": ["Not an IANA time zone name (e.g. Europe/Berlin)."]})
    return name


def _check_skills(slugs: list[str]) -> list[Skill]:
    wanted = list(dict.fromkeys(slugs))
    found = {s.slug: s for s in Skill.objects.filter(slug__in=wanted)}
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        known = ", ".join(Skill.objects.values_list("slug", flat=True))
        raise ValidationFailed(f"Unknown skill {unknown[0]!r}.",
                               fields={"skills": [f"Unknown skill(s): {', '.join(unknown)}. Known: {known}."]})
    return [found[slug] for slug in wanted]


@transaction.atomic
def worker_profile_update(
    *,
    user_id: int,
    display_name=_UNSET,
    country=_UNSET,
    timezone_name=_UNSET,
    skills=_UNSET,
    accepted_terms_version=_UNSET,
    notify_new_work=_UNSET,
) -> WorkerProfile:
    """Updates the given fields of the worker's profile (created if missing). Every field is checked
    before anything is written, so a 400 changes nothing. Accepting terms records the time; only the
    current settings.TERMS_VERSION can be accepted."""
    if country is not _UNSET:
        country = _check_country(country)
    if timezone_name is not _UNSET:
        timezone_name = _check_timezone(timezone_name)
    if skills is not _UNSET:
        skills = _check_skills(skills)
    if accepted_terms_version is not _UNSET and accepted_terms_version != settings.TERMS_VERSION:
        raise ValidationFailed(
            "Only the current terms can be accepted.",
            fields={"accepted_terms_version": [f"The current version is {settings.TERMS_VERSION!r}."]},
        )
    worker_profile_ensure(user_id=user_id)
    profile = WorkerProfile.objects.select_for_update().get(user_id=user_id)
    for field, value in (("display_name", display_name), ("country", country), ("timezone", timezone_name),
                         ("notify_new_work", notify_new_work)):
        if value is not _UNSET:
            setattr(profile, field, value.strip() if isinstance(value, str) else value)
    if accepted_terms_version is not _UNSET and profile.accepted_terms_version != accepted_terms_version:
        profile.accepted_terms_version = accepted_terms_version
        profile.accepted_terms_at = timezone.now()
    profile.save()
    if skills is not _UNSET:
        profile.skills.set(skills)
    return profile
