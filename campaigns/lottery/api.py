"""The lottery API for ops and auditors: a lottery's report and the replay of a draw.

``GET /api/lottery/<campaign>/report/`` (ops): participants, winners per prize, budget
used against its cap, cost per member. ``GET /api/lottery/draws/<draw>/replay/`` (ops
and compliance reviewers): the recorded inputs of a draw run through the rule again,
and whether they give the same prize. Errors are ``{"code", "message"}`` JSON.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.serializers import ErrorSerializer
from campaigns.services.lifecycle import user_is_campaign_editor, user_is_campaign_reviewer
from scrm.core.errors import DomainError

from .selectors import lottery_campaigns, lottery_report
from .serializers import LotteryReportSerializer, ReplaySerializer
from .services.draw import draw_replay

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="not signed in"),
    403: OpenApiResponse(ErrorSerializer, description="not ops (or compliance, for a replay)"),
    404: OpenApiResponse(ErrorSerializer, description="not_found"),
}


class IsOps(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.is_superuser or user_is_campaign_editor(request.user)


class IsOpsOrReviewer(BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        return user.is_superuser or user_is_campaign_editor(user) or user_is_campaign_reviewer(user)


class LotteryReportApi(APIView):
    """A lottery's report (D13)."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsOps]

    @extend_schema(
        operation_id="lottery_report", responses={200: LotteryReportSerializer, **ERRORS}
    )
    def get(self, request, campaign_id: int):
        campaign = lottery_campaigns().filter(pk=campaign_id).first()
        if campaign is None:
            raise DomainError("not_found", _("抽奖活动不存在"), status=404)
        return Response(LotteryReportSerializer(lottery_report(campaign)).data)


class DrawReplayApi(APIView):
    """Replay one draw from its record: why the customer got what they got."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsOpsOrReviewer]

    @extend_schema(operation_id="lottery_draw_replay", responses={200: ReplaySerializer, **ERRORS})
    def get(self, request, draw_id: int):
        return Response(ReplaySerializer(draw_replay(draw_id=draw_id)).data)
