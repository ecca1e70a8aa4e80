"""Fixtures of the campaigns tests: a live coupon campaign, customers, a merchant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.services import claims
from contacts.crypto import phone_hash
from contacts.models import BankRecord
from tests.campaigns.factories import CouponTemplateFactory, MerchantFactory, StoreFactory
from tests.factories import CustomerFactory


@pytest.fixture(autouse=True)
def _fresh_campaign_configs():
    """Configurations are cached per process; every test starts without them."""
    claims.campaign_config_forget()
    yield
    claims.campaign_config_forget()


def verified_customer(phone: str = "13800138000", customer_no: str | None = None, **kw):
    record = BankRecord.objects.create(
        customer_no=customer_no or f"C{phone}",
        phone=phone,
        phone_hash=phone_hash(phone),
    )
    return CustomerFactory(bank_record=record, verified_at=timezone.now(), **kw)


@pytest.fixture
def template(db):
    """A live campaign's 满100减20 template, stock 100, valid 7 days from claim."""
    return CouponTemplateFactory()


@pytest.fixture
def campaign(template):
    return template.campaign


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def merchant(db):
    return MerchantFactory()


@pytest.fixture
def store(merchant):
    return StoreFactory(merchant=merchant, code="FT01")


def days(n: float) -> timedelta:
    return timedelta(days=n)
