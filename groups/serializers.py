"""DRF serializers of the groups app: inputs validate, outputs render."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from .models import CustomerGroup, RoutingDecision


class GroupListInput(serializers.Serializer):
    region = serializers.CharField(required=False, max_length=32)
    owner = serializers.CharField(required=False, max_length=64)
    status = serializers.ChoiceField(required=False, choices=CustomerGroup.Status.choices)
    pool = serializers.IntegerField(required=False, min_value=1)
    fill_min = serializers.FloatField(required=False, min_value=0)
    fill_max = serializers.FloatField(required=False, min_value=0)


class GroupOutput(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()
    region = serializers.SerializerMethodField()
    pool = serializers.SerializerMethodField()
    capacity = serializers.IntegerField()
    fill = serializers.SerializerMethodField()

    class Meta:
        model = CustomerGroup
        fields = [
            "id",
            "chat_id",
            "name",
            "status",
            "owner",
            "region",
            "pool",
            "member_count",
            "customer_count",
            "capacity",
            "fill",
            "wecom_created_at",
        ]

    def get_owner(self, obj) -> dict | None:
        if obj.owner is None:
            return {"userid": obj.owner_userid, "name": ""} if obj.owner_userid else None
        return {"userid": obj.owner.userid, "name": obj.owner.name}

    def get_region(self, obj) -> dict | None:
        return {"code": obj.region.code, "name": obj.region.name} if obj.region else None

    def get_pool(self, obj) -> dict | None:
        return {"id": obj.pool.id, "name": obj.pool.name} if obj.pool else None

    def get_fill(self, obj) -> float | None:
        return round(obj.fill, 3) if obj.fill is not None else None


class RoutingInput(serializers.Serializer):
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lng = serializers.FloatField(required=False, min_value=-180, max_value=180)
    region = serializers.CharField(required=False, max_length=32)
    t = serializers.CharField(required=False, max_length=512, allow_blank=True)

    def validate(self, attrs):
        has_point = attrs.get("lat") is not None and attrs.get("lng") is not None
        if not has_point and not attrs.get("region"):
            raise serializers.ValidationError(
                {"region": [_("请提供经纬度（lat、lng）或地区编码（region）")]}
            )
        return attrs


class _RegionRef(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()


class _PoolRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    verified_only = serializers.BooleanField()
    qr_code = serializers.URLField(allow_null=True, help_text="only when outcome is group")


class _ManagerCode(serializers.Serializer):
    qr_code = serializers.URLField()
    staff_name = serializers.CharField()


class RoutingOutput(serializers.Serializer):
    """The shape ``routing_output`` renders (documents the API)."""

    decision_id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=RoutingDecision.Source.choices)
    fallback = serializers.ChoiceField(choices=RoutingDecision.Fallback.choices)
    visitor = serializers.ChoiceField(choices=RoutingDecision.Visitor.choices)
    outcome = serializers.ChoiceField(choices=RoutingDecision.Outcome.choices)
    message = serializers.CharField()
    distance_km = serializers.FloatField(allow_null=True)
    matched_region = _RegionRef(allow_null=True)
    pool_region = _RegionRef(allow_null=True)
    pool = _PoolRef(allow_null=True)
    manager_code = _ManagerCode(allow_null=True)


def _region(node) -> dict | None:
    return {"code": node.code, "name": node.name, "level": node.level} if node else None


def routing_output(decision) -> dict:
    """The decision as JSON; the group QR code only when the gate let the visitor in."""
    pool = decision.pool
    show_group = decision.outcome == RoutingDecision.Outcome.GROUP
    return {
        "decision_id": decision.decision_id,
        "source": decision.source,
        "fallback": decision.fallback,
        "visitor": decision.visitor,
        "outcome": decision.outcome,
        "message": decision.message,
        "distance_km": decision.distance_km,
        "matched_region": _region(decision.matched_region),
        "pool_region": _region(decision.pool_region),
        "pool": (
            {
                "id": pool.id,
                "name": pool.name,
                "verified_only": pool.verified_only,
                "qr_code": pool.qr_code if show_group else None,
            }
            if pool
            else None
        ),
        "manager_code": (
            {
                "qr_code": decision.manager_code.qr_code,
                "staff_name": decision.manager_code.staff_name,
            }
            if decision.manager_code
            else None
        ),
    }
