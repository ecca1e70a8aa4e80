"""A referral campaign's announcements carry the customer's personal claim link; it
opens the customer's invite page (with their own code), never a coupon claim."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.links import claim_url
from campaigns.referral.models import InviteCode
from tests.referral.conftest import scan

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_referral_claim_link_opens_the_invite_page(client, settings, corp, program):
    settings.SCRM_PUBLIC_URL = "http://testserver"
    root, _fields, _event = scan(corp, userid="lina", name="王老客")

    opened = client.get(
        claim_url(customer_id=root.pk, campaign_id=program.campaign_id), follow=True
    )

    assert opened.status_code == 200
    hops = [url for url, _status in opened.redirect_chain]
    assert hops[-1].startswith(reverse("referral:h5-invite", args=["x"]).rsplit("x", 1)[0])
    assert "邀请好友办卡" in opened.content.decode()
    assert InviteCode.objects.filter(program=program, inviter=root).count() == 1


def test_a_forged_referral_claim_link_is_refused(client, program):
    page = client.get(reverse("referral:h5-invite-from-claim", args=["forged:token"]))
    assert page.status_code == 403
    assert not InviteCode.objects.exists()
