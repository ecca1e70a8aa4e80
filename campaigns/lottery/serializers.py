"""Output shapes of the lottery API (the report and the replay of a draw)."""

from __future__ import annotations

from rest_framework import serializers


class PrizeRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="prize.pk")
    name = serializers.CharField(source="prize.name")
    kind = serializers.CharField(source="prize.kind")
    weight = serializers.IntegerField(source="prize.weight")
    cost_fen = serializers.IntegerField(source="prize.cost_fen", help_text="per draw")
    total_stock = serializers.IntegerField(source="prize.total_stock", allow_null=True)
    stock_remaining = serializers.IntegerField(source="prize.stock_remaining", allow_null=True)
    draws = serializers.IntegerField()
    winners = serializers.IntegerField(help_text="customers who got it at least once")
    committed_fen = serializers.IntegerField(source="cost_fen")


class LotteryReportSerializer(serializers.Serializer):
    campaign = serializers.IntegerField(source="campaign.pk")
    participants = serializers.IntegerField()
    draws = serializers.IntegerField()
    winners = serializers.IntegerField()
    budget_fen = serializers.IntegerField(allow_null=True)
    committed_fen = serializers.IntegerField(
        help_text="budget used: every prize won holds its cost"
    )
    budget_left_fen = serializers.IntegerField(allow_null=True)
    paid_fen = serializers.IntegerField(help_text="red packets paid and coupon discounts redeemed")
    cost_per_member_fen = serializers.IntegerField(allow_null=True)
    paid_per_member_fen = serializers.IntegerField(allow_null=True)
    prizes = PrizeRowSerializer(many=True)
    refusals = serializers.DictField(child=serializers.IntegerField())


class ReplaySerializer(serializers.Serializer):
    draw = serializers.IntegerField(source="draw_id")
    prize = serializers.IntegerField(source="prize_id", help_text="what the draw gave")
    replayed_prize = serializers.IntegerField(
        source="replayed_prize_id", help_text="what the recorded inputs give under the rule"
    )
    roll = serializers.IntegerField()
    total_weight = serializers.IntegerField()
    eligible = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="[prize id, weight, cost_fen] of each drawable prize, in drawing order",
    )
    eligible_matches = serializers.BooleanField()
    matches = serializers.BooleanField()
