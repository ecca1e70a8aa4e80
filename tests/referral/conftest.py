"""Fixtures of the referral tests: a live referral campaign with tiers, and customers
who come in the way WeCom brings them (scanning contact ways in the sandbox, the app
processing the callbacks through its inbox)."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.referral.models import InviteCode, ReferralProgram, ReferralTier
from campaigns.referral.services import invite_code_ensure
from campaigns.services import claims
from contacts.models import Customer
from tests.campaigns.factories import CampaignFactory, CouponTemplateFactory
from tests.wecom.events import deliver


@pytest.fixture(autouse=True)
def _fresh_campaign_configs():
    claims.campaign_config_forget()
    yield
    claims.campaign_config_forget()


@pytest.fixture
def corp(wecom_sandbox, cast):
    """WeCom with the cast's managers (李娜 is ``lina``)."""
    wecom_sandbox.seed_staff("lina", "chenjing")
    return wecom_sandbox


def referral_campaign(*, goal=ReferralProgram.Goal.ADDED, delay=3, pool=None, **campaign):
    """A live referral campaign: 1 invite → a coupon, 3 → an 8.88 yuan red packet,
    10 → a gift."""
    fields = {
        "kind": Campaign.Kind.REFERRAL,
        "title": "邀请好友办卡",
        "rules_text": "好友添加客户经理即算邀请成功。",
        "per_customer_limit": None,
        "budget_fen": 100_000,
        **campaign,
    }
    template = CouponTemplateFactory(campaign=CampaignFactory(**fields), title="邀请有礼满100减20")
    program = ReferralProgram.objects.create(
        campaign=template.campaign, goal=goal, reward_delay_workdays=delay, group_pool=pool
    )
    ReferralTier.objects.create(
        program=program, threshold=1, kind="coupon", coupon_template=template
    )
    ReferralTier.objects.create(program=program, threshold=3, kind="red_packet", amount_fen=888)
    ReferralTier.objects.create(program=program, threshold=10, kind="gift", gift_name="定制保温杯")
    return program


@pytest.fixture
def program(db):
    return referral_campaign()


# WeCom dedupes events on their ids and CreateTime (seconds): a re-add within the same
# second as the first add (only tests are that quick) needs its own CreateTime.
_SECONDS = itertools.count()


def _create_time() -> str:
    return str(int(time.time()) + next(_SECONDS))


def scan(sandbox, **body) -> tuple[Customer, dict, object]:
    """A WeChat user scans (a contact way by ``config_id``, or adds ``userid``); the
    sandbox's add_external_contact event, with the state it carries, goes through the
    app's inbox."""
    result = sandbox.control("scan", **body)
    fields = {
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": result["userid"],
        "ExternalUserID": result["external_userid"],
        "CreateTime": _create_time(),
    }
    if result["state"]:
        fields["State"] = result["state"]
    if result["welcome_code"]:
        fields["WelcomeCode"] = result["welcome_code"]
    event = deliver(fields)
    assert event.status == "done", event.last_error
    return Customer.objects.get(external_userid=result["external_userid"]), fields, event


def scan_code(sandbox, code: InviteCode, name: str, **body) -> Customer:
    """A friend scans an inviter's code."""
    customer, _fields, _event = scan(sandbox, config_id=code.config_id, name=name, **body)
    return customer


def customer_deletes_manager(sandbox, customer: Customer, userid: str = "lina") -> None:
    sandbox.control(
        "customer_deletes_staff", external_userid=customer.external_userid, userid=userid
    )
    event = deliver(
        {
            "Event": "change_external_contact",
            "ChangeType": "del_follow_user",
            "UserID": userid,
            "ExternalUserID": customer.external_userid,
            "CreateTime": _create_time(),
        }
    )
    assert event.status == "done", event.last_error


def code_of(program: ReferralProgram, customer: Customer) -> InviteCode:
    return invite_code_ensure(program=program, inviter_id=customer.pk)


def after_workdays(n: int):
    """A moment ``n`` Chinese working days from now (the reward's due day)."""
    from scrm.core.workdays import SHANGHAI, add_workdays

    now = timezone.now()
    due = add_workdays(now.astimezone(SHANGHAI).date(), n)
    return now + timedelta(days=(due - now.astimezone(SHANGHAI).date()).days)
