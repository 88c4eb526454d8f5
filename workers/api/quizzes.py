"""Quizzes as workers take them: list, start an attempt, read it, submit it. No answer keys here."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsOps, IsWorker
from workers.api.ops import QuizAuthoringSerializer, quizzes_annotated
from workers.models import QuizAttempt
from workers.selectors_quiz import quiz_attempt_for_worker, quiz_list_for_worker
from workers.services.quizzes import quiz_attempt_retry_after, quiz_attempt_start, quiz_attempt_submit


class BlockerSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    retry_after = serializers.DateTimeField(allow_null=True)


class MyQualificationSerializer(serializers.Serializer):
    score = serializers.FloatField()
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class QuizForWorkerSerializer(serializers.Serializer):
    slug = serializers.CharField(source="quiz.slug")
    skill = serializers.CharField(source="quiz.skill.slug")
    title = serializers.CharField(source="quiz.title")
    description = serializers.CharField(source="quiz.description")
    pass_mark = serializers.FloatField(source="quiz.pass_mark")
    questions_per_attempt = serializers.IntegerField(source="quiz.questions_per_attempt")
    time_limit_seconds = serializers.IntegerField(source="quiz.time_limit_seconds")
    cooldown_seconds = serializers.IntegerField(source="quiz.cooldown_seconds")
    max_failed_attempts = serializers.IntegerField(source="quiz.max_failed_attempts", allow_null=True)
    validity_days = serializers.IntegerField(source="quiz.validity_days", allow_null=True)
    qualification = MyQualificationSerializer(allow_null=True)
    failed_attempts = serializers.IntegerField()
    open_attempt = serializers.IntegerField(allow_null=True)
    can_start = serializers.BooleanField()
    blocker = BlockerSerializer(allow_null=True)


class OptionForWorkerSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="Answer with this label (a, b, c, ...).")
    text = serializers.CharField()
    code = serializers.CharField()


class QuestionForWorkerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    prompt = serializers.CharField()
    code = serializers.CharField()
    weight = serializers.IntegerField()
    options = OptionForWorkerSerializer(many=True)


class AttemptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    quiz = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    score = serializers.FloatField(allow_null=True)
    passed = serializers.BooleanField(allow_null=True)
    retry_after = serializers.DateTimeField(allow_null=True)
    questions = QuestionForWorkerSerializer(many=True)


class SubmitSerializer(serializers.Serializer):
    answers = serializers.JSONField(help_text='{"<question id>": "b"} or {"<question id>": ["a", "c"]} (multiple).')


class SubmitResultSerializer(serializers.Serializer):
    score = serializers.FloatField()
    passed = serializers.BooleanField()
    retry_after = serializers.DateTimeField(allow_null=True)


class QuizListView(APIView):
    """GET: any signed-in person sees the published quizzes and their own standing. POST: ops create one."""

    def get_permissions(self):
        return [IsOps()] if self.request.method == "POST" else [IsWorker()]

    @extend_schema(tags=["quizzes"], responses=QuizForWorkerSerializer(many=True))
    def get(self, request):
        return Response(QuizForWorkerSerializer(quiz_list_for_worker(user=request.user), many=True).data)

    @extend_schema(tags=["ops"], request=QuizAuthoringSerializer, responses={201: QuizAuthoringSerializer})
    def post(self, request):
        data = QuizAuthoringSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quiz = data.save()
        return Response(QuizAuthoringSerializer(quizzes_annotated().get(pk=quiz.pk)).data, status=201)


class AttemptStartView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(tags=["quizzes"], request=None, responses={201: AttemptSerializer})
    def post(self, request, slug):
        attempt = quiz_attempt_start(worker_id=request.user.id, quiz_slug=slug)
        return Response(AttemptSerializer(quiz_attempt_for_worker(attempt=attempt)).data, status=201)


class AttemptDetailView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(tags=["quizzes"], responses=AttemptSerializer)
    def get(self, request, pk):
        attempt = get_object_or_404(QuizAttempt.objects.select_related("quiz"), pk=pk, worker=request.user)
        return Response(AttemptSerializer(quiz_attempt_for_worker(attempt=attempt)).data)


class AttemptSubmitView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(tags=["quizzes"], request=SubmitSerializer, responses=SubmitResultSerializer)
    def post(self, request, pk):
        data = SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = quiz_attempt_submit(worker_id=request.user.id, attempt_id=pk, answers=data.validated_data["answers"])
        return Response(SubmitResultSerializer({"score": attempt.score, "passed": attempt.passed,
                                                "retry_after": quiz_attempt_retry_after(attempt)}).data)
