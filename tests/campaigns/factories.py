"""Factories for the campaigns tests: campaigns, templates, merchants, stores."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from campaigns.models import Campaign, CouponTemplate, Merchant, Store


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"周三美食节{n}")
    title = "周三美食五折"
    rules_text = "每位客户限领一张，到店出示券码核销。"
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    status = Campaign.Status.LIVE
    verified_only = False
    per_customer_limit = 1
    velocity_ip_per_hour = None
    velocity_phone_per_hour = None


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CouponTemplate
        skip_postgeneration_save = True

    campaign = factory.SubFactory(CampaignFactory)
    title = "美食满100减20"
    kind = CouponTemplate.Kind.AMOUNT_OFF
    face_value_fen = 2000
    min_spend_fen = 10000
    validity = CouponTemplate.Validity.RELATIVE
    valid_days = 7
    total_stock = 100
    stock_remaining = factory.LazyAttribute(lambda o: o.total_stock)


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"老街火锅{n}")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    merchant = factory.SubFactory(MerchantFactory)
    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"福田店{n}")
