from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from workers import selectors


class OnboardingSerializer(serializers.Serializer):
    state = serializers.CharField()
    missing = serializers.ListField(child=serializers.CharField())


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    roles = serializers.ListField(child=serializers.CharField())
    onboarding = OnboardingSerializer()


class MeView(APIView):
    @extend_schema(tags=["workers"], responses=MeSerializer)
    def get(self, request):
        user = request.user
        data = {
            "id": user.id,
            "email": user.email,
            "roles": sorted(user.groups.values_list("name", flat=True)),
            "onboarding": selectors.worker_onboarding_get(user=user),
        }
        return Response(MeSerializer(data).data)
