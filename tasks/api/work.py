"""Worker-facing project listing: what a worker may claim from, and what it pays, before claiming.

Only the fields named in WorkProjectSerializer leave: nothing about gold tasks (which tasks are gold, how
many, their answers), other workers, or the client."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsWorker
from tasks.selectors.projects import worker_projects_available


class WorkProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    task_type = serializers.CharField()
    label_schema = serializers.JSONField()
    instructions = serializers.CharField()
    data_use_statement = serializers.CharField(help_text="How the client will use your judgments.")
    reward_cents = serializers.IntegerField(help_text="Pay per judgment, in the currency's minor units.")
    currency = serializers.CharField()
    effective_hourly_cents = serializers.IntegerField(
        allow_null=True, help_text="What the project pays per hour now, counting cleared pay only: rate_hourly_cents "
                                   "times the cleared share of the sampled judgments' credits; null until enough "
                                   "judgments (PAY_HOURLY_MIN_JUDGMENTS).")
    below_pay_floor = serializers.BooleanField(
        help_text="effective_hourly_cents (cleared pay) is under the platform's floor.")
    pending_hourly_cents = serializers.IntegerField(
        allow_null=True, help_text="The part of rate_hourly_cents still pending while workers' work is checked: "
                                   "rate_hourly_cents - effective_hourly_cents; null when the rate is.")
    rate_hourly_cents = serializers.IntegerField(
        allow_null=True, help_text="reward / median seconds of the newest approved judgments (PAY_HOURLY_SAMPLE) "
                                   "* 3600, cleared or not; null until enough judgments.")
    open_slots = serializers.IntegerField(
        help_text="Judgments the project's tasks still want, your own live and submitted work counted as still "
                  "open: it falls as other workers take slots, never with your own claims or submits.")
    lease_seconds = serializers.IntegerField(help_text="How long a claimed task stays yours.")


class WorkBlockerSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class WorkProjectListSerializer(serializers.Serializer):
    blocker = WorkBlockerSerializer(allow_null=True, help_text="Why you may not claim at all (then no results).")
    count = serializers.IntegerField()
    results = WorkProjectSerializer(many=True)


class WorkProjectListView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(tags=["queue"], summary="Projects you may claim from now, with their pay",
                   responses={200: WorkProjectListSerializer})
    def get(self, request):
        blocker, projects = worker_projects_available(user=request.user)
        return Response(WorkProjectListSerializer(
            {"blocker": blocker, "count": len(projects), "results": projects}).data)
