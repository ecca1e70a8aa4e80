"""A lottery's life: drafted by ops with its prize table (in the admin or the services),
reviewed by compliance with the banned-phrase check covering the prize texts, run, and
reported (D7, D13, D14: compliance never sees customers' draws)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.lottery.models import Draw, Lottery, Prize
from campaigns.lottery.services import prizes
from campaigns.lottery.services.draw import lottery_draw
from campaigns.models import Campaign
from campaigns.services import lifecycle
from scrm.core.errors import DomainError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def draft(cast, *, everyone_wins=False, budget_fen=50_000, **over):
    now = timezone.now()
    campaign = prizes.lottery_create(
        actor=cast.ops,
        data={
            "name": "周五抽奖",
            "title": "周五幸运大抽奖",
            "rules_text": "每天可抽一次，奖品抽完即止",
            "starts_at": now - timedelta(hours=1),
            "ends_at": now + timedelta(days=7),
            "budget_fen": budget_fen,
            "verified_only": False,
            **over,
        },
        lottery={"everyone_wins": everyone_wins, "draws_per_day": 1, "draws_per_customer": 3},
    )
    template = lifecycle.template_create(
        actor=cast.ops,
        campaign_id=campaign.pk,
        data={
            "title": "火锅满100减20",
            "kind": "amount_off",
            "face_value_fen": 2000,
            "min_spend_fen": 10000,
            "validity": "relative",
            "valid_days": 7,
            "total_stock": 100,
        },
    )
    return campaign, template


def add(cast, campaign, **data):
    return prizes.prize_save(actor=cast.ops, campaign_id=campaign.pk, data=data)


def test_a_lottery_goes_through_review_and_its_prize_texts_are_checked(cast):
    campaign, template = draft(cast)
    with pytest.raises(DomainError) as info:
        lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    assert info.value.code == "no_prizes"
    add(
        cast,
        campaign,
        name="稳赚5元红包",
        kind="red_packet",
        weight=10,
        total_stock=50,
        amount_fen=500,
    )
    coupon = add(
        cast,
        campaign,
        name="火锅券",
        description="到店出示",
        kind="coupon",
        weight=10,
        total_stock=50,
        coupon_template=template,
    )
    assert coupon.cost_fen == 2000 and coupon.stock_remaining == 50
    add(cast, campaign, name="谢谢参与", kind="thanks", weight=80)
    with pytest.raises(DomainError) as info:
        lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    assert info.value.code == "banned_phrase" and "奖品名称「稳赚5元红包」" in info.value.message
    packet = Prize.objects.get(campaign=campaign, kind="red_packet")
    add_data = {"name": "5元红包"}
    prizes.prize_save(actor=cast.ops, campaign_id=campaign.pk, data=add_data, prize_id=packet.pk)
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    with pytest.raises(DomainError) as info:  # frozen once submitted
        add(cast, campaign, name="又一个", kind="thanks", weight=1)
    assert info.value.code == "campaign_not_editable"
    lifecycle.campaign_approve(actor=cast.compliance, campaign_id=campaign.pk, comment="可以")
    lifecycle.campaign_go_live(actor=cast.ops, campaign_id=campaign.pk)
    result = lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    assert result.draw.prize.campaign_id == campaign.pk


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("no_budget", "invalid"),
        ("everyone_wins_without_consolation", "no_consolation"),
        ("everyone_wins_with_thanks", "thanks_in_everyone_wins"),
        ("consolation_without_everyone_wins", "consolation_without_everyone_wins"),
        ("prize_stock_over_template", "prize_stock_exceeds_template"),
    ],
)
def test_a_prize_table_that_cannot_keep_its_promises_is_refused_at_submission(cast, setup, code):
    campaign, template = draft(
        cast,
        everyone_wins=setup.startswith("everyone_wins"),
        budget_fen=None if setup == "no_budget" else 50_000,
    )
    consolation = setup in ("everyone_wins_with_thanks", "consolation_without_everyone_wins")
    stock = 200 if setup == "prize_stock_over_template" else 50
    add(
        cast,
        campaign,
        name="火锅券",
        kind="coupon",
        weight=10,
        total_stock=stock,
        coupon_template=template,
        is_consolation=consolation,
    )
    if setup == "everyone_wins_with_thanks":
        add(cast, campaign, name="谢谢参与", kind="thanks", weight=1)
    with pytest.raises(DomainError) as info:
        lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "red_packet", "amount_fen": 50, "total_stock": 10}, "amount_fen"),
        ({"kind": "red_packet", "amount_fen": 20001, "total_stock": 10}, "amount_fen"),
        ({"kind": "gift", "total_stock": 10}, "gift_cost_fen"),
        ({"kind": "coupon", "total_stock": 10}, "coupon_template"),
        ({"kind": "red_packet", "amount_fen": 500}, "total_stock"),
        ({"kind": "thanks", "weight": 0}, "weight"),
        ({"kind": "thanks", "amount_fen": 100}, "amount_fen"),
    ],
)
def test_a_bad_prize_is_refused_with_the_field_it_concerns(cast, data, field):
    campaign, _template = draft(cast)
    with pytest.raises(DomainError) as info:
        add(cast, campaign, **{"name": "奖品", "weight": 1, **data})
    assert info.value.code == "invalid" and info.value.data["field"] == field
    assert not Prize.objects.filter(campaign=campaign).exists()


def test_ops_draft_a_lottery_in_the_admin_with_its_prize_table(client, cast):
    client.force_login(cast.ops)
    assert client.get("/admin/lottery/lotterycampaign/add/").status_code == 200
    now = timezone.localtime()
    form = {
        "name": "周五抽奖",
        "title": "周五幸运大抽奖",
        "rules_text": "每天可抽一次",
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": "00:00:00",
        "ends_at_0": (now + timedelta(days=7)).strftime("%Y-%m-%d"),
        "ends_at_1": "00:00:00",
        "budget_fen": "30000",
        "verified_only": "on",
        "lottery-TOTAL_FORMS": "1",
        "lottery-INITIAL_FORMS": "0",
        "lottery-MIN_NUM_FORMS": "1",
        "lottery-MAX_NUM_FORMS": "1",
        "lottery-0-everyone_wins": "on",
        "lottery-0-draws_per_customer": "5",
        "lottery-0-draws_per_day": "1",
        "prizes-TOTAL_FORMS": "2",
        "prizes-INITIAL_FORMS": "0",
        "prizes-MIN_NUM_FORMS": "0",
        "prizes-MAX_NUM_FORMS": "1000",
        "prizes-0-position": "1",
        "prizes-0-name": "8.88元红包",
        "prizes-0-kind": "red_packet",
        "prizes-0-weight": "10",
        "prizes-0-total_stock": "100",
        "prizes-0-amount_fen": "888",
        "prizes-1-position": "2",
        "prizes-1-name": "定制保温杯",
        "prizes-1-kind": "gift",
        "prizes-1-weight": "90",
        "prizes-1-total_stock": "300",
        "prizes-1-gift_cost_fen": "1500",
        "prizes-1-is_consolation": "on",
    }
    answer = client.post("/admin/lottery/lotterycampaign/add/", form)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    campaign = Campaign.objects.get(name="周五抽奖")
    assert campaign.kind == Campaign.Kind.LOTTERY and campaign.created_by == cast.ops
    lottery = Lottery.objects.get(campaign=campaign)
    assert (lottery.everyone_wins, lottery.draws_per_customer, lottery.draws_per_day) == (
        True,
        5,
        1,
    )
    table = list(Prize.objects.filter(campaign=campaign).order_by("position"))
    assert [(p.name, p.cost_fen, p.stock_remaining) for p in table] == [
        ("8.88元红包", 888, 100),
        ("定制保温杯", 1500, 300),
    ]
    page = client.get(f"/admin/lottery/lotterycampaign/{campaign.pk}/change/")
    assert page.status_code == 200 and "定制保温杯" in page.content.decode()
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    # A bad prize in the form is shown beside its field, and nothing is saved.
    second = {**form, "name": "另一个抽奖", "prizes-0-amount_fen": "10"}
    answer = client.post("/admin/lottery/lotterycampaign/add/", second)
    assert answer.status_code == 200
    assert "红包金额须在 1 元到 200 元之间" in answer.content.decode()
    assert not Campaign.objects.filter(name="另一个抽奖").exists()


def test_the_report_page_and_draws_are_for_ops_and_compliance_sees_the_prizes_only(client, cast):
    campaign, template = draft(cast)
    add(
        cast, campaign, name="5元红包", kind="red_packet", weight=50, total_stock=50, amount_fen=500
    )
    add(cast, campaign, name="谢谢参与", kind="thanks", weight=50)
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    lifecycle.campaign_approve(actor=cast.compliance, campaign_id=campaign.pk)
    lifecycle.campaign_go_live(actor=cast.ops, campaign_id=campaign.pk)
    customers = [CustomerFactory() for _ in range(6)]
    for customer in customers:
        lottery_draw(customer_id=customer.pk, campaign_id=campaign.pk)
    won = Draw.objects.filter(won=True).count()

    client.force_login(cast.ops)
    report = client.get(f"/admin/lottery/lotterycampaign/{campaign.pk}/report/")
    assert report.status_code == 200
    text = report.content.decode()
    assert '<td id="participants">6</td>' in text and f'<td id="winners">{won}</td>' in text
    assert f"500.00 / {won * 5}.00 / {500 - won * 5}.00" in text
    draws = client.get(f"/admin/lottery/draw/?campaign__id__exact={campaign.pk}&won__exact=1")
    assert draws.status_code == 200
    draw = Draw.objects.first()
    one = client.get(f"/admin/lottery/draw/{draw.pk}/change/")
    assert one.status_code == 200 and "结果一致" in one.content.decode()

    client.force_login(cast.compliance)
    page = client.get(f"/admin/lottery/lotterycampaign/{campaign.pk}/change/")
    assert page.status_code == 200 and "5元红包" in page.content.decode()
    assert client.get(f"/admin/lottery/lotterycampaign/{campaign.pk}/report/").status_code == 403
    assert client.get("/admin/lottery/draw/").status_code in (302, 403)


def test_compliance_opening_a_lottery_from_the_review_queue_sees_its_prize_table(client, cast):
    campaign, _template = draft(cast)
    add(cast, campaign, name="5元红包", kind="red_packet", weight=1, total_stock=5, amount_fen=500)
    lifecycle.campaign_submit(actor=cast.ops, campaign_id=campaign.pk)
    client.force_login(cast.compliance)
    queue = client.get("/admin/campaigns/campaignreviewqueue/")
    assert "周五抽奖" in queue.content.decode()
    page = client.get(f"/admin/campaigns/campaignreviewqueue/{campaign.pk}/change/", follow=True)
    assert page.redirect_chain[-1][0] == f"/admin/lottery/lotterycampaign/{campaign.pk}/change/"
    text = page.content.decode()
    assert "5元红包" in text and 'id="act-approve"' in text
    answer = client.post(
        f"/admin/lottery/lotterycampaign/{campaign.pk}/act/",
        {"action": "approve", "comment": "可以"},
    )
    assert answer.status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.APPROVED


def test_ops_record_a_won_gift_handed_over_once_and_it_is_audited(client, cast):
    from scrm.core.models import AuditEvent
    from tests.lottery.factories import LotteryFactory, gift

    campaign = LotteryFactory().campaign
    gift(campaign, weight=1, total_stock=5)
    draw = lottery_draw(customer_id=CustomerFactory().pk, campaign_id=campaign.pk).draw
    client.force_login(cast.ops)
    action = {"action": "hand_over_gifts", "_selected_action": [draw.pk]}
    answer = client.post("/admin/lottery/draw/", action, follow=True)
    assert "已登记 1 份礼品交付" in answer.content.decode()
    draw.refresh_from_db()
    assert draw.gift_handed_over_at is not None and draw.gift_handed_over_by == cast.ops
    assert AuditEvent.objects.filter(actor=cast.ops, details__operation="gift_hand_over").exists()
    again = client.post("/admin/lottery/draw/", action, follow=True)
    assert "该礼品已登记交付" in again.content.decode()
    assert "已登记 0 份礼品交付" in again.content.decode()
