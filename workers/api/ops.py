"""Ops endpoints: quiz authoring (with answer keys: ops only), pools and their members, suspensions."""

from django.db.models import Count, ProtectedError, Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsOps
from marketplace.errors import Conflict, ValidationFailed
from workers.models import Pool, PoolMembership, Question, Quiz, Skill
from workers.services import worker_reinstate, worker_suspend
from workers.services.pools import pool_members_add, pool_members_remove, pool_rule_worker_ids
from workers.services.quizzes import question_validate


class QuizAuthoringSerializer(serializers.ModelSerializer):
    skill = serializers.SlugRelatedField(slug_field="slug", queryset=Skill.objects.all())
    question_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Quiz
        fields = ["id", "slug", "skill", "title", "description", "pass_mark", "questions_per_attempt",
                  "time_limit_seconds", "cooldown_seconds", "max_failed_attempts", "validity_days", "is_published",
                  "question_count", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_pass_mark(self, value):
        if not 0 < value <= 1:
            raise serializers.ValidationError("Between 0 (exclusive) and 1.")
        return value

    def validate_time_limit_seconds(self, value):
        if value < 10:
            raise serializers.ValidationError("At least 10 seconds.")
        return value

    def validate_questions_per_attempt(self, value):
        if value < 1:
            raise serializers.ValidationError("At least 1.")
        return value


class OptionSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=20)
    text = serializers.CharField(allow_blank=True, required=False, default="")
    code = serializers.CharField(allow_blank=True, required=False, default="", trim_whitespace=False)


class QuestionAuthoringSerializer(serializers.ModelSerializer):
    """Ops only: includes the answer key (``correct``) and the author's explanation."""

    options = OptionSerializer(many=True)
    correct = serializers.ListField(child=serializers.CharField(max_length=20))

    class Meta:
        model = Question
        fields = ["id", "kind", "prompt", "code", "options", "correct", "weight", "explanation", "is_active"]
        read_only_fields = ["id"]
        extra_kwargs = {"code": {"trim_whitespace": False}, "weight": {"min_value": 1, "max_value": 100}}

    def validate(self, attrs):
        instance = self.instance
        kind = attrs.get("kind", instance.kind if instance else None)
        options = attrs.get("options", instance.options if instance else None)
        correct = attrs.get("correct", instance.correct if instance else None)
        try:
            attrs["options"], attrs["correct"] = question_validate(kind=kind, options=options, correct=correct)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.fields) from None
        return attrs


def quizzes_annotated():
    return Quiz.objects.select_related("skill").annotate(question_count=Count("questions", filter=Q(questions__is_active=True)))


class ProtectedDestroyMixin:
    """A row still referenced (quiz attempts, projects using a pool) is refused with 409, never a 500."""

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            used_by = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
            raise Conflict(f"{instance} is still in use by {', '.join(used_by)}; unpublish or detach it instead.",
                           code="in_use", extra={"used_by": used_by}) from None


@extend_schema(tags=["ops"])
class QuizAuthoringDetailView(ProtectedDestroyMixin, generics.RetrieveUpdateDestroyAPIView):
    """An ops view of one quiz (GET/PATCH/DELETE /api/v1/quizzes/{slug}/). Deleting a quiz with attempts
    is refused (409): unpublish it instead."""

    permission_classes = [IsOps]
    serializer_class = QuizAuthoringSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return quizzes_annotated()


@extend_schema(tags=["ops"])
class QuestionListView(generics.ListCreateAPIView):
    permission_classes = [IsOps]
    serializer_class = QuestionAuthoringSerializer

    def get_quiz(self):
        return generics.get_object_or_404(Quiz, slug=self.kwargs["slug"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no slug
            return Question.objects.none()
        return Question.objects.filter(quiz=self.get_quiz()).order_by("id")

    def perform_create(self, serializer):
        serializer.save(quiz=self.get_quiz())


@extend_schema(tags=["ops"])
class QuestionDetailView(generics.RetrieveUpdateDestroyAPIView):
    """Deleting a question drawn in past attempts is allowed: grading skips it (set is_active=false to retire)."""

    permission_classes = [IsOps]
    serializer_class = QuestionAuthoringSerializer
    queryset = Question.objects.all()


class PoolSerializer(serializers.ModelSerializer):
    required_skills = serializers.SlugRelatedField(slug_field="slug", queryset=Skill.objects.all(), many=True,
                                                   required=False)
    active_members = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Pool
        fields = ["id", "name", "description", "required_skills", "capacity", "active_members", "created_at"]
        read_only_fields = ["id", "created_at"]


def pools_annotated():
    return Pool.objects.prefetch_related("required_skills").annotate(
        active_members=Count("memberships", filter=Q(memberships__status=PoolMembership.Status.ACTIVE)))


@extend_schema(tags=["ops"])
class PoolListView(generics.ListCreateAPIView):
    permission_classes = [IsOps]
    serializer_class = PoolSerializer

    def get_queryset(self):
        return pools_annotated().order_by("name")


@extend_schema(tags=["ops"])
class PoolDetailView(ProtectedDestroyMixin, generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [IsOps]
    serializer_class = PoolSerializer

    def get_queryset(self):
        return pools_annotated()


class MembersRuleSerializer(serializers.Serializer):
    skill = serializers.SlugField()
    min_score = serializers.FloatField(min_value=0, max_value=1)


class MembersChangeSerializer(serializers.Serializer):
    worker_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=10000)
    rule = MembersRuleSerializer(required=False, help_text="Every worker qualified in skill with score >= min_score.")
    reason = serializers.CharField(allow_blank=True, required=False, default="")

    def validate(self, attrs):
        if ("worker_ids" in attrs) == ("rule" in attrs):
            raise serializers.ValidationError({"worker_ids": ["Give worker_ids or rule, not both or neither."]})
        return attrs


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="worker.email")

    class Meta:
        model = PoolMembership
        fields = ["worker", "email", "status", "reason", "added_at"]


class MembersChangeResultSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.IntegerField(), required=False)
    already = serializers.ListField(child=serializers.IntegerField(), required=False)
    removed = serializers.ListField(child=serializers.IntegerField(), required=False)
    not_members = serializers.ListField(child=serializers.IntegerField(), required=False)


class PoolMembersView(APIView):
    permission_classes = [IsOps]

    def _ids(self, request) -> tuple[list[int], str]:
        data = MembersChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = data.validated_data.get("rule")
        if rule:
            ids = pool_rule_worker_ids(skill_slug=rule["skill"], min_score=rule["min_score"])
        else:
            ids = data.validated_data["worker_ids"]
        return ids, data.validated_data["reason"]

    @extend_schema(tags=["ops"], responses=MembershipSerializer(many=True))
    def get(self, request, pk):
        generics.get_object_or_404(Pool, pk=pk)
        rows = PoolMembership.objects.filter(pool_id=pk).select_related("worker").order_by("worker_id")
        return Response(MembershipSerializer(rows, many=True).data)

    @extend_schema(tags=["ops"], request=MembersChangeSerializer, responses=MembersChangeResultSerializer)
    def post(self, request, pk):
        ids, reason = self._ids(request)
        return Response(pool_members_add(pool_id=pk, worker_ids=ids, actor_id=request.user.id, reason=reason))

    @extend_schema(tags=["ops"], request=MembersChangeSerializer, responses={200: MembersChangeResultSerializer})
    def delete(self, request, pk):
        ids, reason = self._ids(request)
        return Response(pool_members_remove(pool_id=pk, worker_ids=ids, actor_id=request.user.id, reason=reason))


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class WorkerStatusSerializer(serializers.Serializer):
    worker = serializers.IntegerField()
    status = serializers.CharField()


class WorkerSuspendView(APIView):
    permission_classes = [IsOps]
    action = "suspend"

    @extend_schema(tags=["ops"], request=ReasonSerializer, responses=WorkerStatusSerializer)
    def post(self, request, pk):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        service = worker_suspend if self.action == "suspend" else worker_reinstate
        service(worker_id=pk, reason=data.validated_data["reason"], actor_id=request.user.id)
        from workers.models import WorkerProfile

        return Response({"worker": pk, "status": WorkerProfile.objects.get(user_id=pk).status})
