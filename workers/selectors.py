"""Reads about workers. Onboarding state is derived from the facts, never stored twice.

Onboarding steps, in order (each needs all the previous ones):

- ``email_verified``: the account's email address is verified (allauth EmailAddress).
- ``profile_complete``: display_name, country, timezone, at least one claimed skill, and the current
  terms (settings.TERMS_VERSION) accepted.
- ``qualified``: at least one unexpired Qualification. From here the worker may claim work.
- ``payout_ready``: the Stripe account can receive payouts (payments sets it through
  ``worker_payouts_enabled_set``).

``state`` is the last step of the unbroken prefix that holds ("registered" when none does), and
``active`` when all four hold: so "payout_ready" is the step, "active" the state that follows from it.
A worker who connects Stripe before qualifying stays "profile_complete" with ``qualification`` missing.
A suspended or banned worker has state "suspended"/"banned" whatever the steps say.
"""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from marketplace import events
from workers.models import PoolMembership, Qualification, WorkerProfile

STEPS = ("email_verified", "profile_complete", "qualified", "payout_ready")
PROFILE_FIELDS = ("display_name", "country", "timezone")


def worker_profile_find(*, user) -> WorkerProfile | None:
    """The profile if it exists (it is created lazily by workers.services.worker_profile_ensure)."""
    try:
        return WorkerProfile.objects.prefetch_related("skills").get(user=user)
    except WorkerProfile.DoesNotExist:
        return None


def worker_email_verified(*, user) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def _unexpired(at) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=at)


def worker_qualified_skill_ids(*, user, at=None) -> set[int]:
    """Skills in which the worker holds a Qualification that has not expired at ``at`` (default now)."""
    at = at or timezone.now()
    return set(Qualification.objects.filter(_unexpired(at), worker=user).values_list("skill_id", flat=True))


def worker_qualified_skills_sql(*, worker_id: int, at=None) -> tuple[str, list]:
    """The same set as worker_qualified_skill_ids, as SQL (selecting skill_id) with its parameters, for the
    queue to embed in its project query (one round trip per claim instead of two). Same rule as _unexpired."""
    from django.db import connection

    at = connection.ops.adapt_datetimefield_value(at or timezone.now())
    table = Qualification._meta.db_table
    return (f"SELECT skill_id FROM {table} WHERE worker_id = %s AND (expires_at IS NULL OR expires_at > %s)",  # noqa: S608
            [worker_id, at])


def worker_qualifications_list(*, user, at=None) -> list[Qualification]:
    """All the worker's qualifications (expired ones too, so the worker sees what to renew)."""
    return list(Qualification.objects.filter(worker=user).select_related("skill").order_by("skill__slug"))


def worker_active_pool_ids(*, user) -> set[int]:
    """Pools where the worker's membership is active."""
    return set(
        PoolMembership.objects.filter(worker=user, status=PoolMembership.Status.ACTIVE).values_list("pool_id", flat=True)
    )


def _profile_missing(profile: WorkerProfile | None) -> list[str]:
    missing = [name for name in PROFILE_FIELDS if profile is None or not getattr(profile, name)]
    if profile is None or not profile.skills.all():
        missing.append("skills")
    if profile is None or profile.accepted_terms_version != settings.TERMS_VERSION:
        missing.append("terms")
    return missing


def worker_onboarding_get(*, user, profile: WorkerProfile | None = None) -> dict:
    """``{"state", "missing", "steps"}``: the derived state (see the module docstring), every missing
    requirement in the order it must be done (codes: email_verified, display_name, country, timezone,
    skills, terms, qualification, payout_account), and which steps hold."""
    profile = profile if profile is not None else worker_profile_find(user=user)
    profile_missing = _profile_missing(profile)
    done = {
        "email_verified": worker_email_verified(user=user),
        "profile_complete": not profile_missing,
        "qualified": bool(worker_qualified_skill_ids(user=user)),
        "payout_ready": bool(profile and profile.payouts_enabled),
    }
    missing = [] if done["email_verified"] else ["email_verified"]
    missing += profile_missing
    if not done["qualified"]:
        missing.append("qualification")
    if not done["payout_ready"]:
        missing.append("payout_account")
    state = "registered"
    for step in STEPS:
        if not done[step]:
            break
        state = step
    else:
        state = "active"
    if profile is not None and profile.status != WorkerProfile.Status.ACTIVE:
        state = profile.status
    return {"state": state, "missing": missing, "steps": done}


def worker_claim_blockers(*, user) -> list[dict]:
    """Why this person may not claim work now: ``[{"code", "message"}]``, empty = may claim.

    Claiming needs a verified email, a complete profile, the current terms, at least one unexpired
    qualification and no suspension or ban; a payout account is not needed (only to be paid).
    Projects' own qualification and pool rules are the queue's business."""
    profile = worker_profile_find(user=user)
    blockers = []
    if (profile is not None and profile.status == WorkerProfile.Status.BANNED) or not user.is_active:
        blockers.append({"code": "banned", "message": "This account is banned from the platform."})
    elif profile is not None and profile.status == WorkerProfile.Status.SUSPENDED:
        reason = f": {profile.status_reason}" if profile.status_reason else "."
        blockers.append({"code": "suspended", "message": f"This account is suspended{reason}"})
    if not worker_email_verified(user=user):
        blockers.append({"code": "email_unverified", "message": "Verify your email address first."})
    missing = _profile_missing(profile)
    incomplete = [name for name in missing if name != "terms"]
    if incomplete:
        blockers.append({
            "code": "profile_incomplete",
            "message": f"Complete your profile (PATCH /api/v1/me/): {', '.join(incomplete)}.",
        })
    if "terms" in missing:
        blockers.append({
            "code": "terms_not_accepted",
            "message": f"Accept the current terms (accepted_terms_version={settings.TERMS_VERSION}).",
        })
    if not worker_qualified_skill_ids(user=user):
        blockers.append({"code": "not_qualified", "message": "Pass a qualification quiz first (GET /api/v1/quizzes/)."})
    return blockers


def workers_eligible_for(*, skill_ids, pool_id=None) -> QuerySet:
    """Users who may claim now (same rules as worker_claim_blockers), qualified (unexpired) in every
    skill of ``skill_ids`` and, if ``pool_id``, with an active membership in that pool. The caller filters
    on ``worker_profile__notify_new_work`` itself if it mails them."""
    from django.contrib.auth import get_user_model

    now = timezone.now()
    users = get_user_model().objects.filter(
        is_active=True,
        worker_profile__status=WorkerProfile.Status.ACTIVE,
        worker_profile__accepted_terms_version=settings.TERMS_VERSION,
    ).exclude(
        Q(worker_profile__display_name="") | Q(worker_profile__country="") | Q(worker_profile__timezone="")
    ).filter(
        Exists(EmailAddress.objects.filter(user=OuterRef("pk"), email__iexact=OuterRef("email"), verified=True)),
        Exists(WorkerProfile.skills.through.objects.filter(workerprofile__user=OuterRef("pk"))),
        Exists(Qualification.objects.filter(_unexpired(now), worker=OuterRef("pk"))),
    )
    for skill_id in set(skill_ids):
        users = users.filter(Exists(Qualification.objects.filter(_unexpired(now), worker=OuterRef("pk"), skill_id=skill_id)))
    if pool_id is not None:
        users = users.filter(Exists(PoolMembership.objects.filter(
            worker=OuterRef("pk"), pool_id=pool_id, status=PoolMembership.Status.ACTIVE)))
    return users.order_by("pk")


def worker_standing_get(*, user) -> dict | None:
    """The worker's quality standing (None until first measured), asked of quality through the
    marketplace.events.worker_standing hook: quality stands above workers and writes to it."""
    return events.worker_standing.ask(user=user)


def worker_profiles_in_state(*, queryset, state: str) -> QuerySet:
    """Narrows a WorkerProfile queryset to one onboarding state (same rules as worker_onboarding_get),
    in SQL, for admin list filters."""
    now = timezone.now()
    verified = Exists(EmailAddress.objects.filter(user=OuterRef("user_id"), email__iexact=OuterRef("user__email"),
                                                  verified=True))
    complete = (~Q(display_name="") & ~Q(country="") & ~Q(timezone="")
                & Q(accepted_terms_version=settings.TERMS_VERSION)
                & Exists(WorkerProfile.skills.through.objects.filter(workerprofile_id=OuterRef("pk"))))
    qualified = Exists(Qualification.objects.filter(_unexpired(now), worker=OuterRef("user_id")))
    if state in (WorkerProfile.Status.SUSPENDED, WorkerProfile.Status.BANNED):
        return queryset.filter(status=state)
    queryset = queryset.filter(status=WorkerProfile.Status.ACTIVE)
    conditions = {
        "registered": ~verified,
        "email_verified": verified & ~complete,
        "profile_complete": verified & complete & ~qualified,
        "qualified": verified & complete & qualified & Q(payouts_enabled=False),
        "active": verified & complete & qualified & Q(payouts_enabled=True),
    }
    return queryset.filter(conditions[state]) if state in conditions else queryset.none()
