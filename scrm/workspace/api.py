"""Workspace API: the same task list and actions as the page, for the WeCom sidebar."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import ManagerTask
from .selectors import worklist_for


class TaskOut(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")
    status_label = serializers.CharField(source="get_status_display")
    customer_name = serializers.CharField(source="customer.name", default=None)
    group_name = serializers.CharField(source="group.name", default=None)
    overdue = serializers.SerializerMethodField()
    can_act = serializers.SerializerMethodField()

    class Meta:
        model = ManagerTask
        fields = [
            "id", "kind", "kind_label", "title", "detail", "status", "status_label",
            "due_date", "overdue", "priority", "customer_name", "group_name",
            "suggestion", "can_act", "acted_at", "skip_reason", "closed_at",
        ]  # fmt: skip

    def get_overdue(self, task) -> bool:
        return task.status == ManagerTask.Status.OPEN and task.due_date < timezone.localdate()

    def get_can_act(self, task) -> bool:
        return (
            task.status == ManagerTask.Status.OPEN
            and task.kind != ManagerTask.Kind.GROUP_MESSAGE
            and task.suggestion_id is not None
            and task.acted_at is None
        )


class SkipIn(serializers.Serializer):
    reason = serializers.ChoiceField(choices=list(services.SKIP_REASONS))
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class WorklistOut(serializers.Serializer):
    open = TaskOut(many=True)
    closed_today = TaskOut(many=True)
    overdue = serializers.IntegerField()


class WorklistApi(APIView):
    @extend_schema(responses=WorklistOut, summary="今日任务")
    def get(self, request):
        data = worklist_for(user=request.user, today=timezone.localdate())
        return Response(
            {
                "open": TaskOut(data["open"], many=True).data,
                "closed_today": TaskOut(data["closed_today"], many=True).data,
                "overdue": data["overdue"],
            }
        )


class TaskDoneApi(APIView):
    @extend_schema(request=None, responses=TaskOut, summary="完成任务")
    def post(self, request, task_id: int):
        return Response(TaskOut(services.task_done(user=request.user, task_id=task_id)).data)


class TaskSkipApi(APIView):
    @extend_schema(request=SkipIn, responses=TaskOut, summary="跳过任务")
    def post(self, request, task_id: int):
        body = SkipIn(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.task_skip(user=request.user, task_id=task_id, **body.validated_data)
        return Response(TaskOut(task).data)


class TaskActApi(APIView):
    @extend_schema(request=None, responses=TaskOut, summary="去执行：推送建议话术到企业微信")
    def post(self, request, task_id: int):
        return Response(TaskOut(services.task_act(user=request.user, task_id=task_id)).data)
