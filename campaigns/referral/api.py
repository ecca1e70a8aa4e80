"""The referral API: the bank's systems report that a customer was verified as a bank
customer or opened a card (``POST /api/referrals/conversions/``).

A DRF token of a user with ``referral.report_conversions`` (the bank-systems account)
and an ``Idempotency-Key`` on every call, handled as the campaigns API does: a retry
with the same key and body gets the first answer byte for byte, the same key with
another body ``422 idempotency_key_reused``. Reporting the same conversion again under
a new key changes nothing (``created: false``). Errors are ``{"code", "message"}`` JSON.

``POST /api/referrals/invite-links/`` (``referral.make_invite_links``) gives the bank's
own channels a customer's personal invite page and QR code.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from campaigns.api import IDEMPOTENCY_KEY
from campaigns.serializers import ErrorSerializer, datetime_text
from campaigns.services.idempotency import Answer, idempotent, request_fingerprint
from scrm.core.api import holds_permission
from scrm.core.errors import DomainError

from .links import invite_url
from .serializers import (
    ConversionInputSerializer,
    ConversionSerializer,
    InviteLinkInputSerializer,
    InviteLinkSerializer,
)
from .services import ConversionResult, conversion_record, invite_link_make

ERRORS = {
    status: OpenApiResponse(ErrorSerializer, description=text)
    for status, text in {
        400: "invalid input or Idempotency-Key",
        401: "missing or bad token",
        403: "forbidden (no permission to report conversions)",
        404: "customer_not_found",
        422: "idempotency_key_reused",
    }.items()
}


def _invalid(serializer) -> Answer:
    errors = serializer.errors
    first = next(iter(errors.values()))
    message = str(first[0] if isinstance(first, list) else first)
    return Answer(400, {"code": "invalid", "message": message, "fields": errors})


def _body(request) -> object:
    data = request.data
    return data.dict() if hasattr(data, "dict") else data


def _respond(answer: Answer) -> HttpResponse:
    response = HttpResponse(
        answer.json_text(), status=answer.status, content_type="application/json"
    )
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def conversion_body(result: ConversionResult) -> dict:
    conversion = result.conversion
    return {
        "id": conversion.pk,
        "customer": conversion.customer.external_userid,
        "kind": conversion.kind,
        "created": result.created,
        "occurred_at": datetime_text(conversion.occurred_at),
        "invitations_succeeded": [
            {"id": i.pk, "campaign": i.program.campaign_id, "depth": i.depth}
            for i in result.succeeded
        ],
    }


class ConversionApi(APIView):
    """The bank's systems report a conversion (verified, card opened); the customer's
    pending invitations whose goal it is succeed, and their inviters' tiers are looked at."""

    # Token first: an anonymous caller is told to authenticate (401), not refused (403).
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, holds_permission("referral.report_conversions")]

    @extend_schema(
        operation_id="referral_conversion_create",
        request=ConversionInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: ConversionSerializer, 200: ConversionSerializer, **ERRORS},
    )
    def post(self, request):
        user = request.user
        data = _body(request)

        def action() -> Answer:
            serializer = ConversionInputSerializer(data=data)
            if not serializer.is_valid():
                return _invalid(serializer)
            valid = serializer.validated_data
            try:
                result = conversion_record(
                    actor=user,
                    kind=valid["kind"],
                    external_userid=valid.get("external_userid", ""),
                    customer_no=valid.get("customer_no", ""),
                    reference=valid.get("reference", ""),
                    occurred_at=valid.get("occurred_at"),
                )
            except DomainError as exc:
                return Answer(exc.status, exc.as_dict())
            return Answer(201 if result.created else 200, conversion_body(result))

        return _respond(
            idempotent(
                owner=f"user:{user.pk}",
                key=request.headers.get("Idempotency-Key", ""),
                fingerprint=request_fingerprint(method="POST", path=request.path, data=data),
                action=action,
            )
        )


class InviteLinkApi(APIView):
    """A customer's personal invite page and QR code of a live referral campaign, for the
    bank's own channels (the mobile-bank app shows it as the customer's poster). Made in
    WeCom on the first ask; asking again returns the same code. No Idempotency-Key: it
    changes nothing a second call could double."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, holds_permission("referral.make_invite_links")]

    @extend_schema(
        operation_id="referral_invite_link",
        request=InviteLinkInputSerializer,
        responses={200: InviteLinkSerializer, **ERRORS},
    )
    def post(self, request):
        serializer = InviteLinkInputSerializer(data=_body(request))
        if not serializer.is_valid():
            return _respond(_invalid(serializer))
        valid = serializer.validated_data
        try:
            code, customer = invite_link_make(
                actor=request.user,
                campaign_id=valid["campaign"],
                external_userid=valid.get("external_userid", ""),
                customer_no=valid.get("customer_no", ""),
            )
        except DomainError as exc:
            return _respond(Answer(exc.status, exc.as_dict()))
        body = {
            "campaign": valid["campaign"],
            "customer": customer.external_userid,
            "url": invite_url(customer_id=customer.pk, campaign_id=valid["campaign"]),
            "qr_code": code.qr_code,
        }
        return _respond(Answer(200, body))
