"""GET/PATCH /api/v1/me/: the signed-in person's profile, onboarding state and qualifications."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsWorker
from workers import selectors
from workers.services.profile import worker_profile_update


class OnboardingSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["registered", "email_verified", "profile_complete", "qualified",
                                             "payout_ready", "active", "suspended", "banned"])
    missing = serializers.ListField(child=serializers.CharField(), help_text="What is still needed, in order.")
    steps = serializers.DictField(child=serializers.BooleanField())


class ProfileSerializer(serializers.Serializer):
    display_name = serializers.CharField()
    country = serializers.CharField()
    timezone = serializers.CharField()
    skills = serializers.ListField(child=serializers.CharField())
    accepted_terms_version = serializers.CharField()
    accepted_terms_at = serializers.DateTimeField(allow_null=True)
    notify_new_work = serializers.BooleanField()
    payouts_enabled = serializers.BooleanField()
    status = serializers.CharField()
    status_reason = serializers.CharField()


class TermsSerializer(serializers.Serializer):
    current_version = serializers.CharField()
    accepted = serializers.BooleanField()


class QualificationSerializer(serializers.Serializer):
    skill = serializers.CharField(source="skill.slug")
    score = serializers.FloatField()
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    roles = serializers.ListField(child=serializers.CharField())
    profile = ProfileSerializer()
    onboarding = OnboardingSerializer()
    terms = TermsSerializer()
    qualifications = QualificationSerializer(many=True)
    quality_standing = serializers.JSONField(allow_null=True, help_text="From the quality app; null until measured.")


class MeUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=80, allow_blank=True, required=False)
    country = serializers.CharField(max_length=2, allow_blank=True, required=False,
                                    help_text="ISO 3166-1 alpha-2, e.g. DE")
    timezone = serializers.CharField(max_length=64, allow_blank=True, required=False, help_text="IANA, e.g. Asia/Kolkata")
    skills = serializers.ListField(child=serializers.SlugField(), required=False, max_length=50,
                                   help_text="Skill slugs, e.g. [\"python\"]; replaces the list.")
    accepted_terms_version = serializers.CharField(max_length=32, required=False)
    notify_new_work = serializers.BooleanField(required=False)


def me_data(user) -> dict:
    from workers.models import WorkerProfile

    profile = selectors.worker_profile_find(user=user) or WorkerProfile(user=user)
    skills = sorted(s.slug for s in profile.skills.all()) if profile.pk else []
    return {
        "id": user.id,
        "email": user.email,
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "profile": {
            "display_name": profile.display_name, "country": profile.country, "timezone": profile.timezone,
            "skills": skills, "accepted_terms_version": profile.accepted_terms_version,
            "accepted_terms_at": profile.accepted_terms_at, "notify_new_work": profile.notify_new_work,
            "payouts_enabled": profile.payouts_enabled, "status": profile.status,
            "status_reason": profile.status_reason,
        },
        "onboarding": selectors.worker_onboarding_get(user=user, profile=profile if profile.pk else None),
        "terms": {"current_version": settings.TERMS_VERSION,
                  "accepted": profile.accepted_terms_version == settings.TERMS_VERSION},
        "qualifications": selectors.worker_qualifications_list(user=user),
        "quality_standing": selectors.worker_standing_get(user=user),
    }


class MeView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(tags=["workers"], responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(me_data(request.user)).data)

    @extend_schema(tags=["workers"], request=MeUpdateSerializer, responses=MeSerializer)
    def patch(self, request):
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "timezone" in fields:
            fields["timezone_name"] = fields.pop("timezone")
        worker_profile_update(user_id=request.user.id, **fields)
        return Response(MeSerializer(me_data(request.user)).data)
