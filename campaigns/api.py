"""The campaigns API: merchant redemption (the POS contract) and coupon issuing by the
bank's systems.

``POST /api/redemptions/`` and ``POST /api/redemptions/<id>/reverse/`` take a
merchant's key (``Authorization: Bearer mk_…``); ``POST /api/coupons/issue/`` a DRF
token of a user allowed to issue coupons. Every write carries an
``Idempotency-Key``: a retry with the same key and body gets the first answer again
(status and body), the same key with another body ``422 idempotency_key_reused``.
Errors are ``{"code", "message"}`` JSON, like the rest of the API.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
    get_authorization_header,
)
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from contacts.models import Customer
from scrm.core.api import holds_permission
from scrm.core.errors import DomainError

from .models import MerchantKey
from .serializers import (
    ErrorSerializer,
    IssueInputSerializer,
    IssueSerializer,
    RedeemInputSerializer,
    RedemptionSerializer,
    ReversalSerializer,
    datetime_text,
)
from .services.claims import ClaimResult, coupon_issue
from .services.idempotency import Answer, idempotent, request_fingerprint
from .services.merchants import merchant_key_authenticate
from .services.redemption import RedeemResult, coupon_redeem, redemption_reverse


class MerchantKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer mk_<prefix>_<secret>``: the request acts as that
    key's merchant (``request.auth`` is the ``MerchantKey``)."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Authorization 头格式应为 Bearer <商户密钥>"))
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("商户密钥无效或已吊销")) from None
        key = merchant_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(_("商户密钥无效或已吊销"))
        return (None, key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="merchant"'


class MerchantKeyScheme(OpenApiAuthenticationExtension):
    target_class = "campaigns.api.MerchantKeyAuthentication"
    name = "merchantKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A merchant's API key (mk_<prefix>_<secret>), shown once when created.",
        }


class HasMerchantKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, MerchantKey)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="A client-chosen string (at most 255 visible ASCII characters), one per "
    "operation; a retry with the same key and body gets the first answer again.",
)
IDEMPOTENCY_KEY_OPTIONAL = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: a retry with the same key gets the first answer again.",
)
ERRORS = {
    status: OpenApiResponse(ErrorSerializer, description=text)
    for status, text in {
        400: "invalid input or Idempotency-Key",
        401: "bad or revoked key",
        403: "wrong_merchant",
        404: "not_found",
        409: "already_redeemed, expired, not_valid_now",
        422: "below_minimum, idempotency_key_reused",
    }.items()
}


def _validated(serializer_class, data) -> dict | Answer:
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    errors = serializer.errors
    first = next(iter(errors.values()))
    message = str(first[0] if isinstance(first, list) else first)
    return Answer(400, {"code": "invalid", "message": message, "fields": errors})


def _respond(answer: Answer) -> HttpResponse:
    """The answer's stored JSON text itself, so a replay is byte for byte the first answer."""
    response = HttpResponse(
        answer.json_text(), status=answer.status, content_type="application/json"
    )
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _redemption_body(result: RedeemResult) -> dict:
    return {
        "id": result.redemption.pk,
        "code": result.coupon.code,
        "status": result.redemption.status,
        "discount_fen": result.redemption.discount_fen,
        "redeemed_at": datetime_text(result.redemption.redeemed_at),
    }


def _reversal_body(result: RedeemResult) -> dict:
    return {
        "id": result.redemption.pk,
        "code": result.coupon.code,
        "status": result.redemption.status,
        "coupon_status": result.coupon.status,
        "reversed_at": datetime_text(result.redemption.reversed_at),
    }


def issue_body(result: ClaimResult, *, external_userid: str) -> dict:
    return {
        "claim": str(result.claim_ref),
        "campaign": result.campaign_id,
        "template": result.template_id,
        "customer": external_userid,
        "coupons": [
            {
                "id": c.pk,
                "code": c.code,
                "status": c.status,
                "instalment_no": c.instalment_no,
                "valid_from": datetime_text(c.valid_from),
                "valid_until": datetime_text(c.valid_until),
            }
            for c in result.coupons
        ],
    }


def _body(request) -> object:
    data = request.data
    return data.dict() if hasattr(data, "dict") else data


class RedemptionApi(APIView):
    """Redeem a coupon (核销) at the merchant's till."""

    authentication_classes = [MerchantKeyAuthentication]
    permission_classes = [HasMerchantKey]

    @extend_schema(
        operation_id="redemption_create",
        request=RedeemInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: RedemptionSerializer, **ERRORS},
    )
    def post(self, request):
        merchant = request.auth.merchant
        data = _body(request)

        def action() -> Answer:
            valid = _validated(RedeemInputSerializer, data)
            if isinstance(valid, Answer):
                return valid
            result = coupon_redeem(
                merchant=merchant,
                code=valid["code"],
                amount_fen=valid["amount_fen"],
                store_code=valid["store"],
            )
            return Answer(201, _redemption_body(result))

        return _respond(
            idempotent(
                owner=f"merchant:{merchant.pk}",
                key=request.headers.get("Idempotency-Key", ""),
                fingerprint=request_fingerprint(method="POST", path=request.path, data=data),
                action=action,
            )
        )


class RedemptionReverseApi(APIView):
    """Reverse a redemption (冲正) within the campaign's window: the coupon can be used
    again. ``Idempotency-Key`` is optional here; a second reversal is refused anyway."""

    authentication_classes = [MerchantKeyAuthentication]
    permission_classes = [HasMerchantKey]

    @extend_schema(
        operation_id="redemption_reverse",
        request=None,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={200: ReversalSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        merchant = request.auth.merchant

        def action() -> Answer:
            return Answer(
                200, _reversal_body(redemption_reverse(merchant=merchant, redemption_id=pk))
            )

        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return _respond(action())
        return _respond(
            idempotent(
                owner=f"merchant:{merchant.pk}",
                key=key,
                fingerprint=request_fingerprint(method="POST", path=request.path, data=None),
                action=action,
            )
        )


class CouponIssueApi(APIView):
    """The bank's systems issue a coupon to a customer (by ``external_userid`` or bank
    customer number), with the same stock and limit guarantees as a claim."""

    # Token first: an anonymous caller is told to authenticate (401), not refused (403).
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, holds_permission("campaigns.issue_coupons")]

    @extend_schema(
        operation_id="coupon_issue",
        request=IssueInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: IssueSerializer, **ERRORS},
    )
    def post(self, request):
        user = request.user
        data = _body(request)

        def action() -> Answer:
            valid = _validated(IssueInputSerializer, data)
            if isinstance(valid, Answer):
                return valid
            try:
                result = coupon_issue(
                    actor=user,
                    campaign_id=valid["campaign"],
                    template_id=valid.get("template"),
                    external_userid=valid.get("external_userid", ""),
                    customer_no=valid.get("customer_no", ""),
                )
            except DomainError as exc:
                # The claim rolled itself back; its refusal record is kept (D4).
                return Answer(exc.status, exc.as_dict())
            ext = Customer.objects.values_list("external_userid", flat=True).get(
                pk=result.customer_id
            )
            return Answer(201, issue_body(result, external_userid=ext))

        return _respond(
            idempotent(
                owner=f"user:{user.pk}",
                key=request.headers.get("Idempotency-Key", ""),
                fingerprint=request_fingerprint(method="POST", path=request.path, data=data),
                action=action,
            )
        )
