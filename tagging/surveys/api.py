"""The survey links API: the bank's systems (SMS, the mobile-bank app) ask for
customers' personal survey links (``POST /api/surveys/<id>/links/``).

A DRF token (or a session) of a user with ``surveys.make_survey_links`` (ops have it
through their role; the bank-systems account is given it). Body
``{"external_userids": [...], "bank_customer_nos": [...]}``, at most 1,000 in all;
the answer lists a link per customer found and the identifiers not found. Nothing is
written, so no ``Idempotency-Key`` is needed.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.core.api import ErrorSerializer, holds_permission

from .services import survey_links_make

MAX_CUSTOMERS = 1000


class LinksInputSerializer(serializers.Serializer):
    external_userids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list
    )
    bank_customer_nos = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, default=list
    )

    def validate(self, attrs):
        total = len(attrs["external_userids"]) + len(attrs["bank_customer_nos"])
        if total == 0:
            raise serializers.ValidationError("请至少提供一个客户")
        if total > MAX_CUSTOMERS:
            raise serializers.ValidationError(f"一次最多 {MAX_CUSTOMERS} 个客户")
        return attrs


class LinkSerializer(serializers.Serializer):
    external_userid = serializers.CharField()
    bank_customer_no = serializers.CharField(allow_blank=True)
    url = serializers.CharField()


class LinksSerializer(serializers.Serializer):
    survey = serializers.IntegerField()
    links = LinkSerializer(many=True)
    not_found = serializers.ListField(child=serializers.CharField())


class SurveyLinksApi(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, holds_permission("surveys.make_survey_links")]

    @extend_schema(
        operation_id="survey_links",
        request=LinksInputSerializer,
        responses={
            200: LinksSerializer,
            **{
                s: OpenApiResponse(ErrorSerializer, description=t)
                for s, t in {
                    400: "invalid input",
                    401: "missing or bad token",
                    403: "forbidden",
                    404: "not_found",
                    409: "survey_closed / survey_not_live",
                }.items()
            },
        },
    )
    def post(self, request, pk: int):
        serializer = LinksInputSerializer(data=request.data)
        if not serializer.is_valid():
            errors = serializer.errors
            first = next(iter(errors.values()))
            message = str(first[0] if isinstance(first, list) else first)
            return Response({"code": "invalid", "message": message, "fields": errors}, status=400)
        valid = serializer.validated_data
        links, missing = survey_links_make(
            actor=request.user,
            survey_id=pk,
            external_userids=valid["external_userids"],
            customer_nos=valid["bank_customer_nos"],
        )
        body = {
            "survey": pk,
            "links": [
                {
                    "external_userid": link.customer.external_userid,
                    "bank_customer_no": link.customer.bank_record.customer_no
                    if link.customer.bank_record_id
                    else "",
                    "url": link.url,
                }
                for link in links
            ],
            "not_found": missing,
        }
        return Response(body)
