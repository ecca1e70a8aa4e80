"""Demo: a live red-packet campaign for the Shenzhen groups (D7), made through the services
like a bank's ops and compliance would: 5 yuan for each member who joins, paid on the
5th working day after joining if still in the group. A few of lina's customers then join
through the pool's QR in WeCom (the sandbox), and one leaves again: their packets are on
the ledger, due on the payout day (the leaver's will be cancelled then, with the reason)."""

from __future__ import annotations

from datetime import datetime, timedelta

DEMO_RED_PACKET = "深圳福利群·入群5元红包"
DEMO_RED_PACKET_JOINS = 4


def red_packet_demo(
    *, users: dict, sandbox, customers: list, pools: dict, now: datetime, wait, say=print
):
    """The demo red-packet campaign (made once, live), and a few joins that earn a packet."""
    from campaigns.models import Campaign
    from campaigns.payouts.models import Payout
    from campaigns.payouts.red_packets import red_packet_configure
    from campaigns.services import lifecycle
    from contacts.models import Customer
    from groups.models import GroupPool

    ops, compliance = users["ops"], users["compliance"]
    pool = GroupPool.objects.get(pk=pools["深圳福利群"].pk)
    campaign = Campaign.objects.filter(name=DEMO_RED_PACKET, kind=Campaign.Kind.RED_PACKET).first()
    if campaign is None:
        campaign = lifecycle.campaign_create(
            actor=ops,
            data={
                "name": DEMO_RED_PACKET,
                "kind": Campaign.Kind.RED_PACKET,
                "title": "入群领5元红包",
                "rules_text": "新入深圳福利群的成员，入群后第5个工作日仍在群内，"
                "发放5元微信红包（每人限1次）。",
                "starts_at": now - timedelta(days=1),
                "ends_at": now + timedelta(days=30),
                "budget_fen": 100_000,
                "verified_only": False,
                "audience_pools": [pool],
            },
        )
        red_packet_configure(
            actor=ops,
            campaign_id=campaign.pk,
            amount_fen=500,
            delay_workdays=5,
            conditions=["group_member"],
            daily_budget_fen=50_000,
            wishing="欢迎加入深圳福利群",
        )
        lifecycle.campaign_submit(actor=ops, campaign_id=campaign.pk)
        lifecycle.campaign_approve(actor=compliance, campaign_id=campaign.pk)
        lifecycle.campaign_go_live(actor=ops, campaign_id=campaign.pk)
    if not pool.join_way_config_id:
        return campaign
    # lina's customers who are not in a group yet join through the pool's QR.
    state = sandbox.state()
    members = {m["userid"] for chat in state["chats"] for m in chat["member_list"]}
    known = set(
        Customer.objects.filter(
            external_userid__in=[c.external_userid for c in customers]
        ).values_list("external_userid", flat=True)
    )
    joining = [
        c.external_userid
        for c in customers
        if c.userid == pool.owner.userid
        and c.external_userid in known
        and c.external_userid not in members
    ][:DEMO_RED_PACKET_JOINS]
    for ext in joining:
        sandbox.control("join_group", config_id=pool.join_way_config_id, external_userid=ext)
    if joining:
        wait()
        chat = next(
            (
                c
                for c in sandbox.state()["chats"]
                if any(m["userid"] == joining[-1] for m in c["member_list"])
            ),
            None,
        )
        if chat is not None:
            sandbox.control("leave_group", chat_id=chat["chat_id"], external_userid=joining[-1])
            wait()
    entries = Payout.objects.filter(campaign=campaign)
    due = entries.order_by("due_on").values_list("due_on", flat=True).first()
    say(
        f"red packets: {entries.count()} on the ledger for {DEMO_RED_PACKET}"
        + (f", due {due:%Y-%m-%d}" if due else "")
    )
    return campaign
