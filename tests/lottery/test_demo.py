"""The demo's lottery: made through the services, live, run again without doubling, and
a demo customer's draw link that opens the draw page (D7)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from campaigns.lottery.models import Prize
from campaigns.models import Campaign, Merchant
from groups.models import Region
from scrm.demo.lottery import DEMO_LOTTERY, lottery_demo
from scrm.demo.seed import DEMO_MERCHANT
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_demo_lottery_is_live_with_its_prizes_and_a_draw_link(client, cast):
    region = Region.objects.create(code="440300", name="深圳市", level=Region.Level.CITY)
    merchant = Merchant.objects.create(name=DEMO_MERCHANT, region=region)
    customer = CustomerFactory()
    printed: list[str] = []
    users = {"ops": cast.ops, "compliance": cast.compliance}
    campaign = lottery_demo(users=users, now=timezone.now(), customer=customer, say=printed.append)
    again = lottery_demo(users=users, now=timezone.now(), say=printed.append)
    assert again.pk == campaign.pk and campaign.status == Campaign.Status.LIVE
    assert Campaign.objects.filter(name=DEMO_LOTTERY).count() == 1
    kinds = set(Prize.objects.filter(campaign=campaign).values_list("kind", flat=True))
    assert kinds == {"red_packet", "coupon", "gift", "thanks"}
    coupon = Prize.objects.get(campaign=campaign, kind="coupon")
    assert list(coupon.coupon_template.merchants.all()) == [merchant]
    [line] = printed
    assert line.startswith("a demo customer's draw link: ")
    page = client.get(urlsplit(line.split(": ", 1)[1]).path)
    assert page.status_code == 200 and "周五幸运大抽奖" in page.content.decode()
