"""Demo: a live referral campaign (D8), made through the services like a bank's ops and
compliance would (1 friend → a coupon of the demo merchant, 3 → a red packet, 10 → a
gift), and a small invite chain made as WeCom makes one: a demo customer's invite code
is a contact way of their manager, friends scan it in the sandbox, and the callbacks go
through the webhook, the inbox and the worker; one of those friends invites another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

DEMO_REFERRAL = "老带新·邀请好友添加客户经理"
# (external_userid, name, who invites them: "root" or the external_userid of a friend)
DEMO_REFERRAL_FRIENDS = [
    ("wmDEMOREF001", "赵新客", "root"),
    ("wmDEMOREF002", "钱新客", "root"),
    ("wmDEMOREF003", "孙新客", "root"),
    ("wmDEMOREF004", "李二代", "wmDEMOREF001"),
]


def _campaign(users: dict, now: datetime):
    from campaigns.models import Campaign, Merchant
    from campaigns.referral.models import ReferralProgram, ReferralTier
    from campaigns.referral.services import program_save
    from campaigns.services import lifecycle
    from scrm.demo.seed import DEMO_MERCHANT

    ops, compliance = users["ops"], users["compliance"]
    campaign = Campaign.objects.filter(name=DEMO_REFERRAL, kind=Campaign.Kind.REFERRAL).first()
    if campaign is None:
        campaign = lifecycle.campaign_create(
            actor=ops,
            data={
                "name": DEMO_REFERRAL,
                "kind": Campaign.Kind.REFERRAL,
                "title": "邀请好友，一起享福利",
                "rules_text": "把您的专属邀请页分享给好友，好友扫码添加客户经理即算邀请成功；"
                "邀请 1 位得火锅券，3 位得 5 元红包，10 位得定制保温杯。"
                "红包和礼品在达标后第 5 个工作日发放，届时好友仍需是客户经理的好友。",
                "starts_at": now - timedelta(days=1),
                "ends_at": now + timedelta(days=60),
                "budget_fen": 100_000,
                "verified_only": False,
                "per_customer_limit": None,
            },
        )
        template = lifecycle.template_create(
            actor=ops,
            campaign_id=campaign.pk,
            data={
                "title": "邀请有礼·老街火锅满100减20",
                "kind": "amount_off",
                "face_value_fen": 2000,
                "min_spend_fen": 10000,
                "validity": "relative",
                "valid_days": 14,
                "total_stock": 1000,
                "merchants": list(Merchant.objects.filter(name=DEMO_MERCHANT)),
            },
        )
        program_save(
            actor=ops,
            program=ReferralProgram(campaign=campaign, goal="added", reward_delay_workdays=5),
            tiers=[
                ReferralTier(threshold=1, kind="coupon", coupon_template=template),
                ReferralTier(threshold=3, kind="red_packet", amount_fen=500),
                ReferralTier(threshold=10, kind="gift", gift_name="定制保温杯"),
            ],
        )
    if campaign.status == Campaign.Status.DRAFT:
        campaign = lifecycle.campaign_submit(actor=ops, campaign_id=campaign.pk)
    if campaign.status == Campaign.Status.PENDING:
        campaign = lifecycle.campaign_approve(
            actor=compliance, campaign_id=campaign.pk, comment="演示活动，符合要求"
        )
    if campaign.status == Campaign.Status.APPROVED:
        campaign = lifecycle.campaign_go_live(actor=ops, campaign_id=campaign.pk)
    return campaign


def referral_demo(
    *,
    users: dict,
    sandbox,
    root_external_userid: str,
    now: datetime,
    wait: Callable[[], object] = lambda: None,
    say=print,
):
    """The demo referral campaign (made once, live) and its chain in WeCom; ``wait``
    returns once the app has processed the callbacks so far. Prints the root's link."""
    from campaigns.referral.links import invite_url
    from campaigns.referral.services import invite_code_ensure, program_of_campaign
    from contacts.models import Customer

    campaign = _campaign(users, now)
    from scrm.demo.seed import bank_systems_grant

    bank_systems_grant("referral.report_conversions", "referral.make_invite_links")
    program = program_of_campaign(campaign.pk)
    root = Customer.objects.filter(external_userid=root_external_userid).first()
    if root is None:
        say("the demo referral chain needs its first customer; skipped")
        return campaign
    follows = {(f["external_userid"], f["userid"]) for f in sandbox.state()["follows"]}
    inviters = {"root": root}
    scanned = 0
    for level in ("root", "friends"):
        for ext, name, by in DEMO_REFERRAL_FRIENDS:
            if (by == "root") != (level == "root"):
                continue
            inviter = inviters.get(by) or Customer.objects.filter(external_userid=by).first()
            if inviter is None:
                continue
            code = invite_code_ensure(program=program, inviter_id=inviter.pk)
            if (ext, code.staff.userid) in follows:
                continue
            sandbox.control("scan", config_id=code.config_id, external_userid=ext, name=name)
            scanned += 1
        wait()  # the friends exist here before they invite in turn
    if scanned:
        say(f"{scanned} demo friends scanned invite codes in the WeCom sandbox")
    say(
        f"a demo customer's invite link: {invite_url(customer_id=root.pk, campaign_id=campaign.pk)}"
    )
    return campaign
