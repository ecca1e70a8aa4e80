"""The demo's referral campaign: made through the services, live, its invite chain made
through the WeCom sandbox (scans → webhook → inbox), run again without doubling (D8)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.referral.models import Invitation
from scrm.demo.referral import DEMO_REFERRAL, referral_demo
from scrm.wecom.inbox import inbox_waiting_process
from tests.referral.conftest import scan

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_referral_campaign_is_live_with_a_two_level_chain(corp, cast, live_server, client):
    root, _f, _e = scan(corp, userid="lina", name="王老客", external_userid="wmDEMO0000")
    # From here WeCom's callbacks reach the app's webhook, as in the demo.
    corp.sandbox.config.callback_url = f"{live_server.url}/wecom/callback/"
    printed: list[str] = []
    users = {"ops": cast.ops, "compliance": cast.compliance}

    def drain():  # what the worker does with the webhook's inbox rows
        while inbox_waiting_process(limit=50):
            pass

    kwargs = dict(users=users, sandbox=corp, root_external_userid=root.external_userid)
    campaign = referral_demo(now=timezone.now(), wait=drain, say=printed.append, **kwargs)
    assert campaign.status == Campaign.Status.LIVE and campaign.name == DEMO_REFERRAL
    chain = sorted(
        (i.invitee.external_userid, i.depth, i.status)
        for i in Invitation.objects.select_related("invitee")
    )
    assert chain == [
        ("wmDEMOREF001", 1, "succeeded"),
        ("wmDEMOREF002", 1, "succeeded"),
        ("wmDEMOREF003", 1, "succeeded"),
        ("wmDEMOREF004", 2, "succeeded"),
    ]
    again = referral_demo(now=timezone.now(), wait=drain, say=printed.append, **kwargs)
    assert again.pk == campaign.pk and Invitation.objects.count() == 4
    assert Campaign.objects.filter(name=DEMO_REFERRAL).count() == 1
    link = printed[-1]
    assert link.startswith("a demo customer's invite link: ")
    page = client.get(urlsplit(link.split(": ", 1)[1]).path)
    assert page.status_code == 200 and "已成功邀请 3 位好友" in page.content.decode()
