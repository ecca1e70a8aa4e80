"""Content library API under ``api/content/``.

Views validate input, call one service or selector and render the result.
Errors come back as ``{"code", "message"}``; a banned-phrase error also lists
``phrases`` with the field and character positions of every hit.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from scrm.core.errors import DomainError

from . import selectors, services
from .serializers import (
    ApprovedContentSerializer,
    CheckInputSerializer,
    ContentPatchSerializer,
    ContentSerializer,
    ContentWriteSerializer,
    MessageInputSerializer,
    ReviewInputSerializer,
    ReviewSerializer,
    VersionSerializer,
)


class ContentAPIView(GenericAPIView):
    def visible(self, pk: int):
        return get_object_or_404(selectors.content_list_for(user=self.request.user), pk=pk)

    def render_content(self, content, http_status=status.HTTP_200_OK):
        if selectors.content_sees_working_copy(self.request.user):
            data = ContentSerializer(content).data
        else:
            data = ApprovedContentSerializer(content).data
        return Response(data, status=http_status)


class ContentListApi(ContentAPIView):
    serializer_class = ContentSerializer

    @extend_schema(operation_id="content_list")
    def get(self, request):
        qs = selectors.content_list_for(
            user=request.user, status=request.query_params.get("status")
        )
        page = self.paginate_queryset(qs)
        serializer_class = (
            ContentSerializer
            if selectors.content_sees_working_copy(request.user)
            else ApprovedContentSerializer
        )
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(request=ContentWriteSerializer, responses=ContentSerializer)
    def post(self, request):
        data = _valid(ContentWriteSerializer, request.data)
        content = services.content_create(actor=request.user, **data)
        return self.render_content(content, status.HTTP_201_CREATED)


class ContentDetailApi(ContentAPIView):
    serializer_class = ContentSerializer

    def get(self, request, pk: int):
        return self.render_content(self.visible(pk))

    @extend_schema(request=ContentPatchSerializer, responses=ContentSerializer)
    def patch(self, request, pk: int):
        data = _valid(ContentPatchSerializer, request.data, partial=True)
        content = services.content_update(actor=request.user, content_id=pk, **data)
        return self.render_content(content)


class ContentSubmitApi(ContentAPIView):
    serializer_class = ContentSerializer

    @extend_schema(request=None, responses=ContentSerializer)
    def post(self, request, pk: int):
        services.content_submit(actor=request.user, content_id=pk)
        return self.render_content(self.visible(pk))


class ContentApproveApi(ContentAPIView):
    serializer_class = ReviewSerializer

    @extend_schema(request=ReviewInputSerializer, responses=ReviewSerializer)
    def post(self, request, pk: int):
        data = _valid(ReviewInputSerializer, request.data)
        review = services.content_approve(
            actor=request.user,
            content_id=pk,
            comment=data["comment"],
            version_number=data.get("version"),
        )
        return Response(ReviewSerializer(review).data)


class ContentRejectApi(ContentAPIView):
    serializer_class = ReviewSerializer

    @extend_schema(request=ReviewInputSerializer, responses=ReviewSerializer)
    def post(self, request, pk: int):
        data = _valid(ReviewInputSerializer, request.data)
        review = services.content_reject(
            actor=request.user,
            content_id=pk,
            comment=data["comment"],
            version_number=data.get("version"),
        )
        return Response(ReviewSerializer(review).data)


class ContentVersionsApi(ContentAPIView):
    serializer_class = VersionSerializer

    @extend_schema(responses=VersionSerializer(many=True))
    def get(self, request, pk: int):
        if not selectors.content_sees_working_copy(request.user):
            raise DomainError("forbidden", _("只有运营和合规人员可以查看版本记录"), status=403)
        self.visible(pk)
        return Response(
            VersionSerializer(selectors.content_versions(content_id=pk), many=True).data
        )


class ContentMessageApi(ContentAPIView):
    """The WeCom payload of the approved version with the given variables filled in."""

    serializer_class = MessageInputSerializer

    @extend_schema(request=MessageInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        self.visible(pk)
        data = _valid(MessageInputSerializer, request.data)
        version = selectors.content_get_approved(content_id=pk)
        payload = services.content_message_build(version=version, variables=data["variables"])
        return Response({"version": version.number, "message": payload})


class ContentCheckApi(ContentAPIView):
    """Banned-phrase check of a draft before it is saved or submitted."""

    serializer_class = CheckInputSerializer

    @extend_schema(request=CheckInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = _valid(CheckInputSerializer, request.data)
        hits = services.banned_phrase_check(text=data["text"], attachments=data["attachments"])
        return Response({"ok": not hits, "phrases": [hit.as_dict() for hit in hits]})


def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
