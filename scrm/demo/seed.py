"""Demo data for `make run`, made the way a bank's data is made: through WeCom.

People, roles, branches, regions, content (approved by compliance), tags,
pools, task rules and the bank's customer file are ours; staff, customers,
groups, memberships and tag marks exist in WeCom. In sandbox mode the demo's
customers scan the demo channel codes and join the pools' groups through the
sandbox, whose callbacks go through the webhook, the inbox and the worker like
any customer's. Both sides then agree, so ``wecom_sync`` changes nothing.

Idempotent: a second run finds everything in place (the sandbox keeps its
corp in ``var/sandbox/``) and only adds what is missing, plus today's demo
group message so every manager has tasks for today. Refuses production
settings; against a real WeCom corp it loads only the people and the content.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scrm.core.role_names import ROLE_LABELS, Role

DEMO_PASSWORD = "Demo@2026scrm"  # noqa: S105 - printed demo login, refused in production

# username, display name, role, WeCom userid (None for non-WeCom staff), branch code
DEMO_PEOPLE = [
    ("admin", "运营管理员", Role.OPS_ADMIN, None, None),
    ("ops", "运营专员", Role.OPS_STAFF, None, None),
    ("compliance", "合规审核员", Role.COMPLIANCE_REVIEWER, None, None),
    ("branchmgr", "王行长", Role.BRANCH_MANAGER, "wangfang", "SZ-FT"),
    ("manager1", "李经理", Role.CUSTOMER_MANAGER, "lina", "SZ-FT"),
    ("manager2", "张经理", Role.CUSTOMER_MANAGER, "zhangwei", "SZ-FT"),
    ("manager3", "陈经理", Role.CUSTOMER_MANAGER, "chenjing", "CD-JJ"),
]

DEMO_LOGINS = [(u, DEMO_PASSWORD, ROLE_LABELS[r]) for u, _n, r, _w, _b in DEMO_PEOPLE]

DEMO_BRANCHES = [("SZ-FT", "深圳福田支行"), ("CD-JJ", "成都锦江支行")]

# The managers who serve customers, in the order customers are dealt to them.
DEMO_MANAGERS = ["lina", "zhangwei", "chenjing"]

# Demo pools: (region code or None for the default pool, pool name, owner userid).
DEMO_POOLS = [
    ("440300", "深圳福利群", "lina"),
    ("510100", "成都福利群", "chenjing"),
    (None, "全国福利群", "zhangwei"),
]

# Corp tags: group → tags (made here, pushed to WeCom).
DEMO_TAGS = {"渠道来源": ["手机银行", "网点海报"], "客户兴趣": ["理财", "美食", "亲子"]}

# Approved content: title → (text, attachments).
DEMO_CONTENT = {
    "新客欢迎": (
        "感谢添加！本行专属福利群每周都有本地商户优惠，点击下方链接加入离您最近的福利群。",
        [],
    ),
    "周一理财早报": (
        "本周理财市场简报已更新，稳健型产品年化参考 2.3%–2.8%，详情请咨询您的客户经理。",
        [],
    ),
    "周三美食五折": (
        "本周三，合作餐厅用本行信用卡消费享五折，每人限一次，数量有限。",
        [
            {
                "msgtype": "link",
                "link": {"title": "周三美食五折", "url": "https://bank.example/food"},
            }
        ],
    ),
    "基金定投入门": (
        "基金定投的三个好处：\n一、分批买入，摊薄成本，不必猜测高低点。\n"
        "二、每月固定金额，积少成多，适合工薪族。\n"
        "三、长期坚持，分散风险。投资有风险，入市需谨慎，详情请咨询您的客户经理。",
        [],
    ),
    "周五观影福利": ("周五晚场电影票 9.9 元起，群内成员专享，先到先得。", []),
    "生日祝福": ("祝您生日快乐！本行为您准备了一份生日礼遇，详情可回复咨询。", []),
    "新好友跟进话术": (
        "您好，我是您的专属客户经理，之后有本地优惠和理财资讯会第一时间告诉您。",
        [],
    ),
}

# Channel codes: name, type, tag, staff userids, pool invited in the welcome.
DEMO_CHANNELS = [
    ("福田支行网点海报", "offline_event", "网点海报", ["lina", "zhangwei"], "深圳福利群"),
    ("锦江支行网点海报", "offline_event", "网点海报", ["chenjing"], "成都福利群"),
    ("手机银行首页", "mobile_bank", "手机银行", ["lina", "zhangwei", "chenjing"], None),
]

DEMO_CUSTOMERS = 60
# Of those, how many join their manager's pool group.
DEMO_JOINS_PER_MANAGER = 12

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


@dataclass
class DemoCustomer:
    external_userid: str
    name: str
    userid: str
    channel: str
    phone: str | None
    birthday: date | None = None
    maturity: date | None = None
    interests: list[str] = field(default_factory=list)


def demo_customers(today: date) -> list[DemoCustomer]:
    """The same 60 customers every run (names from a fixed seed)."""
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    out = []
    for i in range(DEMO_CUSTOMERS):
        userid = DEMO_MANAGERS[i % len(DEMO_MANAGERS)]
        poster = "锦江支行网点海报" if userid == "chenjing" else "福田支行网点海报"
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(["", *_GIVEN])
        out.append(
            DemoCustomer(
                external_userid=f"wmDEMO{i:04d}",
                name=name,
                userid=userid,
                channel=poster if i % 2 == 0 else "手机银行首页",
                # Four in five customers are in the bank's file with the mobile the
                # manager noted in WeCom: they are verified on arrival (D4).
                phone=f"1390000{i:04d}" if i % 5 != 4 else None,
                # One birthday today and one wealth product maturing soon per manager.
                birthday=today if i < 3 else None,
                maturity=today + timedelta(days=5) if 3 <= i < 6 else None,
                interests=[["理财", "美食", "亲子"][i % 3]] if i % 4 == 0 else [],
            )
        )
    return out


# --------------------------------------------------------------------------- sandbox


class Sandbox:
    """The WeCom sandbox's control API (``/sandbox/``), next to the API base in use."""

    def __init__(self, api_base: str):
        root = api_base.split("/cgi-bin", 1)[0].rstrip("/")
        self.url = f"{root}/sandbox/"

    def _request(self, method: str, action: str, body: dict | None = None) -> dict:
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(  # noqa: S310 - the configured sandbox URL
            self.url + action,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise RuntimeError(f"sandbox {action} refused ({exc.code}): {detail}") from exc

    def reachable(self) -> bool:
        try:
            return "users" in self._request("GET", "state")
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def state(self) -> dict:
        return self._request("GET", "state")

    def control(self, action: str, **body) -> dict:
        return self._request("POST", action, body)


def _wait(predicate: Callable[[], bool], timeout: float, what: str, say) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    say(f"still waiting for {what} after {timeout:.0f} s; the worker will finish it")
    return False


def _inbox_drained() -> bool:
    from scrm.wecom.models import InboxEvent

    return not InboxEvent.objects.exclude(status__in=["done", "ignored", "dead"]).exists()


# --------------------------------------------------------------------------- our side


def _guard() -> None:
    if not settings.DEBUG and "production" in settings.SETTINGS_MODULE:
        raise RuntimeError("demo data is not loaded with production settings")


@transaction.atomic
def _people() -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from contacts.models import Branch, Staff
    from scrm.core.roles import roles_sync

    roles_sync()
    User = get_user_model()
    branches = {
        code: Branch.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in DEMO_BRANCHES
    }
    users = {}
    for username, display, role, wecom_userid, branch_code in DEMO_PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": display,
                "is_staff": role in (Role.OPS_ADMIN, Role.OPS_STAFF, Role.COMPLIANCE_REVIEWER),
                "is_superuser": role == Role.OPS_ADMIN,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role.value))
        users[username] = user
        if wecom_userid:
            staff, _ = Staff.objects.get_or_create(
                userid=wecom_userid,
                defaults={"name": display, "branch": branches[branch_code], "user": user},
            )
            if staff.user_id is None or staff.branch_id is None:
                staff.user, staff.branch = staff.user or user, staff.branch or branches[branch_code]
                staff.save(update_fields=["user", "branch"])
    return users


def _content(users: dict) -> dict[str, object]:
    """Every demo text written by ops and approved by compliance (D14)."""
    from scrm.content import services
    from scrm.content.models import Content

    out = {}
    for title, (text, attachments) in DEMO_CONTENT.items():
        content = Content.objects.filter(title=title).first()
        if content is None:
            content = services.content_create(
                actor=users["ops"], title=title, text=text, attachments=attachments
            )
        if content.approved_version_id is None:
            if content.status != Content.Status.PENDING:
                services.content_submit(actor=users["ops"], content_id=content.pk)
            services.content_approve(
                actor=users["compliance"], content_id=content.pk, comment="演示内容，符合要求"
            )
            content.refresh_from_db()
        out[title] = content
    return out


def _task_rules(content: dict) -> None:
    from scrm.workspace.models import TaskRule

    for kind, days, suggestion in (
        (TaskRule.Kind.NEW_FRIEND, 7, "新好友跟进话术"),
        (TaskRule.Kind.BIRTHDAY, 0, "生日祝福"),
        (TaskRule.Kind.MATURITY, 7, "周一理财早报"),
    ):
        TaskRule.objects.get_or_create(
            kind=kind, defaults={"days": days, "suggestion": content[suggestion]}
        )


def _bank_file(customers: list[DemoCustomer], users: dict) -> None:
    """The bank's customer file: the demo customers with a phone, plus a few not in WeCom."""
    from contacts.bank import bank_records_import
    from contacts.models import BankRecord

    branch = {"lina": "SZ-FT", "zhangwei": "SZ-FT", "chenjing": "CD-JJ"}
    rows = []
    for n, c in enumerate(customers):
        if c.phone is None:
            continue
        rows.append(
            {
                "customer_no": f"DEMO{n:06d}",
                "name": c.name,
                "phone": c.phone,
                "birthday": c.birthday.isoformat() if c.birthday else "",
                "branch": branch[c.userid],
                "debit_card": "是",
                "credit_card": "是" if n % 2 else "否",
                "other_bank_card": "否",
                "aum_bracket": "",
                "product_name": "稳盈 90 天" if c.maturity else "",
                "product_maturity": c.maturity.isoformat() if c.maturity else "",
            }
        )
    for n in range(20):  # bank customers not (yet) on WeCom: leads for the managers
        rows.append(
            {
                "customer_no": f"DEMOL{n:05d}",
                "name": f"存量客户{n + 1}",
                "phone": f"1370000{n:04d}",
                "branch": "SZ-FT" if n % 2 else "CD-JJ",
                "debit_card": "是",
            }
        )
    wanted = {r["customer_no"] for r in rows}
    have = set(
        BankRecord.objects.filter(customer_no__in=wanted).values_list("customer_no", flat=True)
    )
    if wanted - have:
        result = bank_records_import(rows=rows, actor=users["ops"], source="demo")
        if result.errors:
            raise RuntimeError(f"demo bank file refused: {result.errors[:3]}")


def _regions_and_pools() -> dict[str, object]:
    from contacts.models import Staff
    from groups.models import GroupPool, Region
    from groups.services import region_rows_from_csv, regions_load

    regions_load(rows=region_rows_from_csv())
    pools = {}
    for code, name, owner in DEMO_POOLS:
        pools[name] = GroupPool.objects.get_or_create(
            name=name,
            defaults={
                "region": Region.objects.get(code=code) if code else None,
                "is_default": code is None,
                "room_base_name": name,
                "room_base_id": 2,
                "owner": Staff.objects.get(userid=owner),
            },
        )[0]
    return pools


# --------------------------------------------------------------------------- WeCom's side


def _tags_in_wecom() -> dict[str, object]:
    from tagging.models import Tag, TagGroup
    from tagging.services import tag_group_push

    tags = {}
    for group_name, names in DEMO_TAGS.items():
        group, _ = TagGroup.objects.get_or_create(name=group_name)
        for order, name in enumerate(names):
            tags[name] = Tag.objects.get_or_create(
                group=group, name=name, defaults={"order": order}
            )[0]
        if not group.wecom_id or group.tags.filter(wecom_id__isnull=True).exists():
            tag_group_push(group_id=group.pk)
    return {t.name: t for t in Tag.objects.filter(pk__in=[t.pk for t in tags.values()])}


def _groups_in_wecom(sandbox: Sandbox, pools: dict) -> None:
    """Each pool's first group, made by its owner in WeCom; then the pool's join way."""
    from groups.models import CustomerGroup
    from groups.pools import group_register_in_pool, pool_join_way_create
    from groups.sync import group_sync

    chats = {c["chat_id"] for c in sandbox.state()["chats"] if not c.get("dismissed")}
    for pool in pools.values():
        have = CustomerGroup.objects.filter(
            pool=pool, status=CustomerGroup.Status.NORMAL, chat_id__in=chats
        )
        if not have.exists():
            made = sandbox.control(
                "group_create",
                owner=pool.owner.userid,
                name=f"{pool.room_base_name}1",
                callback=False,
            )
            group, _ = group_sync(chat_id=made["chat_id"])
            group_register_in_pool(group_id=group.pk, pool_id=pool.pk)
        pool_join_way_create(pool_id=pool.pk)


def _channels_in_wecom(content: dict, tags: dict, pools: dict) -> dict[str, object]:
    from contacts.channels import channel_code_push
    from contacts.models import ChannelCode, Staff

    out = {}
    for name, kind, tag, userids, pool_name in DEMO_CHANNELS:
        channel = ChannelCode.objects.filter(name=name).first()
        if channel is None:
            channel = ChannelCode.objects.create(
                name=name,
                channel_type=kind,
                state=f"demo-{kind}-{len(out) + 1}",
                welcome_text="{客户名称}您好，我是您的客户经理{客户经理}，很高兴为您服务。",
                welcome_content=content["新客欢迎"],
                invite_pool=pools[pool_name] if pool_name else None,
            )
            channel.staff.set(Staff.objects.filter(userid__in=userids))
            channel.tags.set([tags[tag]])
        if not channel.config_id:
            channel = channel_code_push(channel_id=channel.pk)
        out[name] = channel
    return out


def _customers_in_wecom(
    sandbox: Sandbox, customers: list[DemoCustomer], channels: dict, say
) -> int:
    """Each demo customer scans a channel code (→ add_external_contact → inbox → worker)."""
    follows = {(f["external_userid"], f["userid"]) for f in sandbox.state()["follows"]}
    added = 0
    for c in customers:
        if (c.external_userid, c.userid) in follows:
            continue
        sandbox.control(
            "scan",
            config_id=channels[c.channel].config_id,
            userid=c.userid,
            external_userid=c.external_userid,
            name=c.name,
            remark_mobiles=[c.phone] if c.phone else [],
        )
        added += 1
    if added:
        say(f"{added} demo customers added their managers in the WeCom sandbox")
    return added


def _joins_in_wecom(sandbox: Sandbox, customers: list[DemoCustomer], pools: dict) -> int:
    """Customers join their manager's pool through its join way (QR)."""
    from groups.models import GroupPool

    fresh = GroupPool.objects.filter(pk__in=[p.pk for p in pools.values()]).select_related("owner")
    by_owner = {p.owner.userid: p for p in fresh}
    state = sandbox.state()
    members = {m["userid"] for chat in state["chats"] for m in chat["member_list"]}
    joined = 0
    per_owner: dict[str, int] = {}
    for c in customers:
        per_owner[c.userid] = per_owner.get(c.userid, 0) + 1
        if per_owner[c.userid] > DEMO_JOINS_PER_MANAGER or c.external_userid in members:
            continue
        sandbox.control(
            "join_group",
            config_id=by_owner[c.userid].join_way_config_id,
            external_userid=c.external_userid,
        )
        joined += 1
    return joined


def _interest_tags(customers: list[DemoCustomer], tags: dict) -> None:
    """Managers tag some customers by interest; the tags reach WeCom (mark_tag)."""
    from contacts.models import Customer, Staff
    from tagging.models import CustomerTag
    from tagging.services import customer_tag_add

    staff = {s.userid: s for s in Staff.objects.filter(userid__in=DEMO_MANAGERS)}
    found = {
        c.external_userid: c
        for c in Customer.objects.filter(external_userid__in=[d.external_userid for d in customers])
    }
    for c in customers:
        customer = found.get(c.external_userid)
        for name in c.interests if customer else []:
            with transaction.atomic():
                customer_tag_add(
                    customer=customer,
                    tag=tags[name],
                    source=CustomerTag.Source.MANUAL,
                    staff=staff[c.userid],
                )


def _sop_plan(content: dict, pools: dict, users: dict, now: datetime) -> bool:
    """The weekly calendar, and a slot for this very minute of today (the demo's
    mass message that each group owner confirms). Returns True when a new one was made."""
    from groups.sop.models import SopPlan, SopSlot
    from groups.sop.services import sop_slot_create
    from scrm.core.workdays import SHANGHAI

    local = now.astimezone(SHANGHAI)
    plan = SopPlan.objects.filter(name="每周福利日历").first()
    if plan is None:
        plan = SopPlan.objects.create(
            name="每周福利日历",
            start_date=local.date() - timedelta(days=7),
            created_by=users["ops"],
            active_since=now - timedelta(minutes=10),
        )
        plan.target_pools.set(list(pools.values()))
        for weekday, at, title in (
            (0, "10:00", "周一理财早报"),
            (2, "11:30", "周三美食五折"),
            (4, "18:00", "周五观影福利"),
        ):
            sop_slot_create(
                plan=plan,
                content_id=content[title].pk,
                weekday=weekday,
                at=datetime.strptime(at, "%H:%M").time(),  # noqa: DTZ007 - a wall-clock time
            )
    if SopSlot.objects.filter(plan=plan, valid_from=local.date(), note="演示：今日群发").exists():
        return False
    sop_slot_create(
        plan=plan,
        content_id=content["周三美食五折"].pk,
        at=(local - timedelta(minutes=1)).time().replace(second=0, microsecond=0),
        valid_from=local.date(),
        valid_until=local.date(),
        note="演示：今日群发",
    )
    return True


DEMO_CAMPAIGN = "深圳福利群·老街火锅满减"
DEMO_MERCHANT = "老街火锅"


def bank_systems_grant(*permissions: str) -> None:
    """Give the demo's bank-systems account (made with the coupon campaign) these
    permissions, each ``"app_label.codename"``."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    bank = get_user_model().objects.filter(username="bank-systems").first()
    if bank is None:
        return
    wanted = Q()
    for permission in permissions:
        app_label, codename = permission.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    bank.user_permissions.add(*Permission.objects.filter(wanted))


def _coupon_campaign(users: dict, content: dict, now: datetime, say) -> object:
    """D7: one live coupon campaign for the Shenzhen groups, a merchant with a store,
    its cashier's login and POS key, and a token for the bank's systems. Keys are
    printed when made (set SCRM_DEMO_MERCHANT_KEY / SCRM_DEMO_API_TOKEN to fix them)."""
    import os

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from campaigns.models import Campaign, Merchant, MerchantKey
    from campaigns.services import lifecycle, merchants
    from groups.models import Region

    ops, compliance, admin = users["ops"], users["compliance"], users["admin"]
    region = Region.objects.get(code="440300")
    merchant = Merchant.objects.filter(name=DEMO_MERCHANT).first()
    if merchant is None:
        merchant = merchants.merchant_save(
            actor=ops, data={"name": DEMO_MERCHANT, "region": region}
        )
        store = merchants.store_save(
            actor=ops,
            merchant_id=merchant.pk,
            data={"code": "FT01", "name": "福田店", "region": region},
        )
        cashier, _ = get_user_model().objects.get_or_create(username="cashier")
        cashier.set_password(DEMO_PASSWORD)
        cashier.save()
        merchants.merchant_staff_save(
            actor=ops, user=cashier, merchant_id=merchant.pk, store_id=store.pk
        )
    if not MerchantKey.objects.filter(merchant=merchant, revoked_at=None).exists():
        _key, raw = merchants.merchant_key_create(
            actor=admin,
            merchant_id=merchant.pk,
            name="演示收银机",
            raw_key=os.environ.get("SCRM_DEMO_MERCHANT_KEY") or None,
        )
        say(f"merchant POS key (POST /api/redemptions/): {raw}")
    bank, created = get_user_model().objects.get_or_create(username="bank-systems")
    if created:
        bank.set_unusable_password()
        bank.save()
        bank_systems_grant("campaigns.issue_coupons")
    if not Token.objects.filter(user=bank).exists():
        token = Token.objects.create(
            user=bank, key=(os.environ.get("SCRM_DEMO_API_TOKEN") or Token.generate_key())[:40]
        )
        say(f"bank-systems API token (POST /api/coupons/issue/): {token.key}")
    campaign = Campaign.objects.filter(name=DEMO_CAMPAIGN).first()
    if campaign is None:
        campaign = lifecycle.campaign_create(
            actor=ops,
            data={
                "name": DEMO_CAMPAIGN,
                "title": "老街火锅满 100 减 20",
                "rules_text": "深圳福利群成员专享，每人限领 1 张，领取后 7 天内到店使用。",
                "starts_at": now - timedelta(days=1),
                "ends_at": now + timedelta(days=30),
                "verified_only": False,
                "per_customer_limit": 1,
                "audience_regions": [region],
                "announcement": content["周三美食五折"],
            },
        )
        lifecycle.template_create(
            actor=ops,
            campaign_id=campaign.pk,
            data={
                "title": "满100减20",
                "kind": "amount_off",
                "face_value_fen": 2000,
                "min_spend_fen": 10000,
                "validity": "relative",
                "valid_days": 7,
                "total_stock": 500,
                "daily_stock": 100,
                "merchants": [merchant],
            },
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


def seed_demo(*, say=print, wait_s: float = 240.0) -> dict[str, int]:
    """Load the demo; in sandbox mode, through WeCom as a bank's data arrives."""
    _guard()
    from contacts.models import Customer, FollowRelation
    from groups.models import CustomerGroup
    from groups.sop.models import SopPush
    from scrm.core.workdays import SHANGHAI
    from scrm.wecom.client import triggered_by
    from scrm.workspace.models import ManagerTask
    from scrm.workspace.services import task_rules_run

    now = timezone.now()
    today = now.astimezone(SHANGHAI).date()
    customers = demo_customers(today)
    users = _people()
    content = _content(users)
    _task_rules(content)
    sandbox = Sandbox(settings.WECOM_API_BASE)
    if not sandbox.reachable():
        say("WECOM_API_BASE is not the sandbox: loaded people, roles and content only")
        return {"users": len(users), "customers": Customer.objects.count()}
    with triggered_by("command:seed_demo"):
        sandbox.control(
            "staff",
            users=[{"userid": w, "name": n} for _u, n, _r, w, _b in DEMO_PEOPLE if w],
        )
        _bank_file(customers, users)
        pools = _regions_and_pools()
        tags = _tags_in_wecom()
        _groups_in_wecom(sandbox, pools)
        channels = _channels_in_wecom(content, tags, pools)
        _customers_in_wecom(sandbox, customers, channels, say)
        _wait(_inbox_drained, wait_s, "the new customers to be processed", say)
        if _joins_in_wecom(sandbox, customers, pools):
            _wait(_inbox_drained, wait_s, "the group joins to be processed", say)
        _interest_tags(customers, tags)
        campaign = _coupon_campaign(users, content, now, say)
        first = Customer.objects.filter(external_userid=customers[0].external_userid).first()
        if first is not None:
            from campaigns.links import claim_url

            say(
                f"a demo customer's claim link: {claim_url(customer_id=first.pk, campaign_id=campaign.pk)}"
            )
        from scrm.demo.lottery import lottery_demo

        lottery_demo(users=users, now=now, customer=first, say=say)
        from scrm.demo.referral import referral_demo

        referral_demo(
            users=users,
            sandbox=sandbox,
            root_external_userid=customers[0].external_userid,
            now=now,
            wait=lambda: _wait(_inbox_drained, wait_s, "the invited friends to be processed", say),
            say=say,
        )
        from scrm.demo.tagging import tagging_demo

        tagging_demo(
            users=users,
            content=content,
            tags=tags,
            customers=customers,
            now=now,
            today=today,
            wait=lambda predicate, what: _wait(predicate, wait_s, what, say),
            say=say,
        )
        from scrm.demo.payouts import red_packet_demo

        red_packet_demo(
            users=users,
            sandbox=sandbox,
            customers=customers,
            pools=pools,
            now=now,
            wait=lambda: _wait(_inbox_drained, wait_s, "the red-packet joins to be processed", say),
            say=say,
        )
        task_rules_run(today=today)
        if _sop_plan(content, pools, users, now):
            from groups.sop.tasks import sop_tick_task

            sop_tick_task.delay()  # what beat does every minute, now
            groups = CustomerGroup.objects.filter(pool__in=pools.values()).count()
            _wait(
                lambda: (
                    SopPush.objects.filter(status=SopPush.Status.AWAITING_CONFIRM).count() >= groups
                ),
                wait_s,
                "today's group message to reach the group owners",
                say,
            )
    return {
        "users": len(users),
        "customers": Customer.objects.count(),
        "relations": FollowRelation.objects.filter(status=FollowRelation.Status.ACTIVE).count(),
        "groups": CustomerGroup.objects.filter(status=CustomerGroup.Status.NORMAL).count(),
        "open_tasks": ManagerTask.objects.filter(status=ManagerTask.Status.OPEN).count(),
    }
