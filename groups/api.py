"""DRF endpoints: the group list (staff) and routing (public, for the H5 page)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import group_list
from .serializers import GroupListInput, GroupOutput, RoutingInput, RoutingOutput, routing_output
from .services import routing_decide


class GroupListApi(APIView):
    """Customer groups the caller may see, with fill levels; filter by region,
    owner, status, pool and fill (0–1)."""

    permission_classes = [IsAuthenticated]
    serializer_class = GroupOutput

    @extend_schema(parameters=[GroupListInput], responses=GroupOutput(many=True))
    def get(self, request):
        params = GroupListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = group_list(user=request.user, **params.validated_data)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(GroupOutput(page, many=True).data)


class RoutingApi(APIView):
    """D3/D4: which local group a visitor should join. Public: customers are not
    signed in; a personal link's token ``t`` identifies them for the gate."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    serializer_class = RoutingOutput

    @extend_schema(parameters=[RoutingInput], responses=RoutingOutput)
    def get(self, request):
        return self._route(request.query_params)

    @extend_schema(request=RoutingInput, responses=RoutingOutput)
    def post(self, request):
        return self._route(request.data)

    def _route(self, data):
        params = RoutingInput(data=data)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        decision = routing_decide(
            lat=v.get("lat"),
            lng=v.get("lng"),
            region_code=v.get("region"),  # an explicit pick wins over a point
            token=v.get("t") or None,
        )
        return Response(routing_output(decision))
