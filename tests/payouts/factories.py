"""Factories of the payout tests: red-packet campaigns."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from campaigns.models import Campaign


class RedPacketCampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"入群红包{n}")
    kind = Campaign.Kind.RED_PACKET
    title = "入群领5元红包"
    rules_text = "入群满5个工作日仍在群内，发放5元红包。"
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=60))
    status = Campaign.Status.LIVE
    verified_only = False
    budget_fen = 10_000_00
