"""D12: dormant bank customers are ranked for outreach (recently active and claimed >
recently browsing > browsed without claiming > birthday today), handed to their
branch's managers fairly, capped per manager per day and once per customer per week,
each task with a short friend-request text saying who, why and what the customer gets."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from contacts.models import BankRecord
from scrm.core.workdays import SHANGHAI
from scrm.workspace.models import ManagerTask
from tagging.behaviour.services import EventIn, events_record
from tagging.leads.models import LeadAssignment, LeadOffer, LeadRank, Tier
from tagging.leads.selectors import leads_ranked
from tagging.leads.services import leads_assign, leads_refresh, verify_text
from tests.factories import CustomerFactory, FollowRelationFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = NOW.astimezone(SHANGHAI).date()


def _record(no: str, name: str, branch, *, aum="", birthday=None) -> BankRecord:
    return BankRecord.objects.create(
        customer_no=no,
        name=name,
        phone=f"1380000{no[-4:]}",
        branch=branch,
        aum_bracket=aum,
        birthday=birthday,
    )


def _events(record: BankRecord, *items: tuple[str, float]) -> None:
    """(type, days ago) events the bank's systems reported for a record."""
    events_record(
        events=[
            EventIn(
                event_id=f"{record.customer_no}:{kind}:{ago}",
                customer_id=None,
                bank_record_id=record.pk,
                type=kind,
                occurred_at=NOW - timedelta(days=ago),
            )
            for kind, ago in items
        ],
        source="api",
    )


def _birthday_today() -> date:
    return date(1980, TODAY.month, TODAY.day if (TODAY.month, TODAY.day) != (2, 29) else 28)


@pytest.fixture
def leads(cast):
    branch = cast.staff_a.branch
    r = {}
    r["claimed_late"] = _record("C0001", "赵强", branch, aum="lt50k")
    _events(r["claimed_late"], ("app_login", 2), ("coupon_claimed", 20))
    r["claimed_recent"] = _record("C0002", "钱芳", branch, aum="lt50k")
    _events(r["claimed_recent"], ("app_login", 1), ("coupon_claimed", 1.1))
    r["browsing_rich"] = _record("C0003", "孙丽", branch, aum="gte6m")
    _events(r["browsing_rich"], ("product_viewed", 3))
    r["browsing"] = _record("C0004", "李雷", branch, aum="50k_500k")
    _events(r["browsing"], ("product_viewed", 3.01))
    r["browsed"] = _record("C0005", "周杰", branch)
    _events(r["browsed"], ("product_viewed", 30))
    if TODAY.month == 2 and TODAY.day == 29:
        pytest.skip("birthday today on 29 February")
    r["birthday"] = _record("C0006", "吴敏", branch, birthday=_birthday_today())
    # Not leads: a WeCom friend already (active relation), browsed and claimed long ago,
    # opted out of marketing, only logged in.
    friend = _record("C0007", "郑好", branch)
    _events(friend, ("app_login", 1), ("coupon_claimed", 2))
    FollowRelationFactory(customer=CustomerFactory(bank_record=friend), staff=cast.staff_a)
    claimed_long_ago = _record("C0008", "王五", branch)
    _events(claimed_long_ago, ("product_viewed", 40), ("coupon_claimed", 41))
    opted_out = _record("C0009", "冯六", branch)
    _events(opted_out, ("product_viewed", 1))
    CustomerFactory(bank_record=opted_out, marketing_opt_out=True)
    login_only = _record("C0010", "陈七", branch)
    _events(login_only, ("app_login", 1))
    # An event older than the horizon does not count.
    too_old = _record("C0011", "褚八", branch)
    _events(too_old, ("product_viewed", 200))
    return r


def test_dormant_customers_are_ranked_across_the_four_tiers(leads):
    ranked = leads_ranked(now=NOW)
    by_no = {r.pk: r.customer_no for r in leads.values()}
    # The snapshot the daily run and the page use holds the same order, numbered.
    assert leads_refresh(now=NOW) == len(ranked)
    assert list(
        LeadRank.objects.order_by("position").values_list("bank_record_id", "position")
    ) == [(lead.record_id, n) for n, lead in enumerate(ranked, start=1)]
    assert [(by_no[lead.record_id], lead.tier) for lead in ranked] == [
        ("C0002", 1),  # active and claimed, most recent
        ("C0001", 1),
        ("C0003", 2),  # same day as C0004, higher AUM first
        ("C0004", 2),
        ("C0005", 3),
        ("C0006", 4),
    ]
    assert [lead.record_id for lead in leads_ranked(now=NOW, tier=Tier.BROWSING)] == [
        leads["browsing_rich"].pk,
        leads["browsing"].pk,
    ]


def test_a_customer_who_becomes_a_wecom_friend_leaves_the_list(cast, leads):
    FollowRelationFactory(
        customer=CustomerFactory(bank_record=leads["browsed"]), staff=cast.staff_branch_manager
    )
    assert leads["browsed"].pk not in {lead.record_id for lead in leads_ranked(now=NOW)}


def test_leads_are_spread_fairly_capped_per_manager_and_deduped_per_week(cast, leads, settings):
    settings.LEADS_DAILY_CAP = 2
    report = leads_assign(now=NOW)
    assert (report.leads, report.assigned, report.tasks, report.over_cap) == (6, 4, 4, 2)
    rows = list(LeadAssignment.objects.order_by("id").select_related("bank_record", "staff"))
    assert [(a.bank_record.customer_no, a.staff.name, a.slot) for a in rows] == [
        ("C0002", "王芳", 1),  # the best lead to the first manager, the next to the other
        ("C0001", "李娜", 1),
        ("C0003", "王芳", 2),
        ("C0004", "李娜", 2),
    ]
    tasks = ManagerTask.objects.filter(kind=ManagerTask.Kind.LEAD_ACTIVATION)
    assert tasks.count() == 4
    task = tasks.get(staff=cast.staff_a, dedupe_key__startswith=f"lead:{leads['claimed_late'].pk}:")
    assert task.title == "存量客户激活：赵* 138****0001"
    assert "近期活跃且领取过权益" in task.detail and "C0001" in task.detail
    assert "建议验证语：您好，我是深圳福田支行客户经理李娜" in task.detail
    assert task.due_date == TODAY

    # The same day again: every manager is at the cap, nothing more.
    again = leads_assign(now=NOW)
    assert (again.assigned, again.over_cap) == (0, 2)
    # Next day (same ISO week unless today is Sunday): the one left goes out (C0006's
    # birthday was yesterday); those handed out this week are not handed out again.
    tomorrow = NOW + timedelta(days=1)
    later = leads_assign(now=tomorrow)
    same_week = TODAY.isocalendar()[1] == (TODAY + timedelta(days=1)).isocalendar()[1]
    if same_week:
        assert later.assigned == 1  # C0005
    assert LeadAssignment.objects.filter(bank_record=leads["claimed_recent"]).count() == (
        1 if same_week else 2
    )
    # A week later those still ranked come round again: the three who browsed (their
    # logins are no longer recent, so the two claimers drop out).
    week_later = leads_assign(now=NOW + timedelta(days=7))
    assert week_later.assigned == 3
    assert ManagerTask.objects.filter(dedupe_key__startswith="lead:").count() == (
        LeadAssignment.objects.count()
    )


def test_a_branch_without_managers_gets_none(cast, leads, settings):
    from tests.factories import BranchFactory

    lonely = BranchFactory(code="GZ-TH", name="广州天河支行")
    BankRecord.objects.filter(pk=leads["birthday"].pk).update(branch=lonely)
    report = leads_assign(now=NOW)
    assert report.no_manager == 1
    assert not LeadAssignment.objects.filter(bank_record=leads["birthday"]).exists()


def test_the_verification_text_says_who_why_and_what_within_the_limit(cast, leads, settings):
    text = verify_text(
        manager="李娜", branch="深圳福田支行", tier=Tier.BROWSING, offer="新客专享10元立减金"
    )
    assert (
        text
        == "您好，我是深圳福田支行客户经理李娜，看到您近期在关注我行产品，加我新客专享10元立减金"
    )
    assert len(text) <= 50
    settings.SCRM_BANK_NAME = "示范银行"
    with_bank = verify_text(
        manager="李娜",
        branch="深圳福田支行",
        bank="示范银行",
        tier=Tier.BIRTHDAY,
        offer="送您生日礼",
    )
    assert (
        with_bank.startswith("您好，我是示范银行深圳福田支行客户经理李娜")
        and "生日快乐" in with_bank
    )
    long = verify_text(
        manager="欧阳娜娜",
        branch="深圳市福田区华强北路第一支行营业部",
        bank="某某省农村商业银行股份有限公司",
        tier=Tier.ACTIVE_CLAIMED,
        offer="新客专享10元立减金",
    )
    assert len(long) <= 50
    assert "欧阳娜娜" in long and "领取" in long and "立减金" in long

    # The offer comes from the branch's live offer, else one for all branches.
    LeadOffer.objects.create(text="全行理财体验金")
    LeadOffer.objects.create(branch=cast.staff_a.branch, text="福田网点观影券")
    LeadOffer.objects.create(
        branch=cast.staff_a.branch, text="过期权益", valid_until=TODAY - timedelta(days=1)
    )
    settings.LEADS_DAILY_CAP = 1
    leads_assign(now=NOW)
    texts = list(LeadAssignment.objects.values_list("verify_text", flat=True))
    assert texts and all("福田网点观影券" in t and len(t) <= 50 for t in texts)
    assert all(
        a.verify_text in a.task.detail for a in LeadAssignment.objects.select_related("task")
    )


def test_ops_see_the_ranked_leads_masked_and_filtered(client, cast, leads):
    client.force_login(cast.ops)
    url = "/admin/leads/leadassignment/ranking/"
    assert "尚未计算" in client.get(url).content.decode()
    assert client.post(url).status_code == 302  # ops recompute the list now
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "计算于" in html
    assert "钱*" in html and "钱芳" not in html
    assert "138****0002" in html and "13800000002" not in html
    rows = [r["customer_no"] for r in page.context["rows"]]
    assert rows == ["C0002", "C0001", "C0003", "C0004", "C0005", "C0006"]
    tier3 = client.get("/admin/leads/leadassignment/ranking/", {"tier": "3"})
    assert [r["customer_no"] for r in tier3.context["rows"]] == ["C0005"]
    other = client.get(
        "/admin/leads/leadassignment/ranking/", {"branch": str(cast.staff_b.branch_id)}
    )
    assert other.context["rows"] == []
    client.force_login(cast.compliance)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403


def test_the_daily_task_hands_out_the_leads(cast, leads, settings):
    from tagging.leads.tasks import leads_assign_daily

    settings.LEADS_DAILY_CAP = 1
    result = leads_assign_daily.apply().get()
    assert result["assigned"] == 2 and result["tasks"] == 2
    assert ManagerTask.objects.filter(kind="lead_activation").count() == 2
