"""Input and output shapes of the referral API (the bank systems' conversion reports)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from .models import Conversion


class ConversionInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Conversion.Kind.choices)
    external_userid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    customer_no = serializers.CharField(max_length=32, required=False, allow_blank=True)
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs.get("external_userid") and not attrs.get("customer_no"):
            raise serializers.ValidationError(_("请提供 external_userid 或 customer_no"))
        return attrs


class SucceededInvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField()
    depth = serializers.IntegerField()


class ConversionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = serializers.CharField(help_text="external_userid")
    kind = serializers.ChoiceField(choices=Conversion.Kind.choices)
    created = serializers.BooleanField(help_text="false when this conversion was reported before")
    occurred_at = serializers.DateTimeField()
    invitations_succeeded = SucceededInvitationSerializer(many=True)


class InviteLinkInputSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(min_value=1)
    external_userid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    customer_no = serializers.CharField(max_length=32, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs.get("external_userid") and not attrs.get("customer_no"):
            raise serializers.ValidationError(_("请提供 external_userid 或 customer_no"))
        return attrs


class InviteLinkSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    customer = serializers.CharField(help_text="external_userid")
    url = serializers.URLField(help_text="the inviter's personal invite page (signed)")
    qr_code = serializers.URLField(help_text="WeCom's QR code carrying the inviter's state")
