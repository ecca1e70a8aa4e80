"""Input and output shapes of the campaigns API (the merchant POS contract included)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from scrm.core.api import ErrorSerializer  # noqa: F401 - the campaign APIs' error schema

from .services.redemption import MAX_AMOUNT_FEN


def datetime_text(value) -> str | None:
    """Datetimes as the API writes them everywhere: ISO 8601 in the current time zone
    (Asia/Shanghai), exactly as DRF's ``DateTimeField`` writes them (UTC as "Z"), without
    its field machinery, since every claim answer carries them."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class RedeemInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, trim_whitespace=True)
    amount_fen = serializers.IntegerField(min_value=0, max_value=MAX_AMOUNT_FEN)
    store = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class RedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=["redeemed"])
    discount_fen = serializers.IntegerField()
    redeemed_at = serializers.DateTimeField()


class ReversalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=["reversed"])
    coupon_status = serializers.ChoiceField(choices=["claimed"])
    reversed_at = serializers.DateTimeField()


class IssueInputSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(min_value=1)
    template = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    external_userid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    customer_no = serializers.CharField(max_length=32, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs.get("external_userid") and not attrs.get("customer_no"):
            raise serializers.ValidationError(_("请提供 external_userid 或 customer_no"))
        return attrs


class IssuedCouponSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    status = serializers.CharField()
    instalment_no = serializers.IntegerField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()


class IssueSerializer(serializers.Serializer):
    claim = serializers.UUIDField()
    campaign = serializers.IntegerField()
    template = serializers.IntegerField()
    customer = serializers.CharField(help_text="external_userid")
    coupons = IssuedCouponSerializer(many=True)
