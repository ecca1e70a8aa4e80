"""The event types the system itself records, and the bank-side types a new install
starts with (ops add more in the admin)."""

from __future__ import annotations

MATERIAL_OPENED = "material_opened"
MATERIAL_DWELL = "material_dwell"
FRIEND_ADDED = "friend_added"
GROUP_JOINED = "group_joined"
GROUP_LEFT = "group_left"
COUPON_CLAIMED = "coupon_claimed"
COUPON_REDEEMED = "coupon_redeemed"
LOTTERY_DRAWN = "lottery_drawn"
FRIEND_INVITED = "friend_invited"
SURVEY_ANSWERED = "survey_answered"
REPLIED_TO_MANAGER = "replied_to_manager"

# (code, name, description): recorded by the system only; the events API refuses them,
# except ``replied_to_manager`` (migration 0006): no WeCom callback says a customer
# replied, so the bank's systems or a chat-archive integration report it.
BUILTIN = [
    (
        MATERIAL_OPENED,
        "打开素材",
        "客户打开了追踪链接或 H5 文章（属性：material、category、title、channel，可选 interest）",
    ),
    (
        MATERIAL_DWELL,
        "素材停留",
        "客户在 H5 文章页停留（属性：material、category、title、seconds，可选 interest）",
    ),
    (FRIEND_ADDED, "添加客户经理", "客户添加了员工为好友（属性：staff、state）"),
    (GROUP_JOINED, "加入客户群", "客户加入了客户群（属性：group、region、join_scene、state）"),
    (GROUP_LEFT, "退出客户群", "客户退出了客户群（属性：group、region）"),
    (
        COUPON_CLAIMED,
        "领取优惠券",
        "客户领取了优惠券（属性：campaign、template、category、source）",
    ),
    (
        COUPON_REDEEMED,
        "核销优惠券",
        "客户在商户核销了优惠券（属性：campaign、merchant、amount_fen、discount_fen、category）",
    ),
    (LOTTERY_DRAWN, "参与抽奖", "客户参与了抽奖（属性：campaign、prize、prize_kind、won）"),
    (
        FRIEND_INVITED,
        "邀请好友",
        "客户邀请的好友达成了条件（属性：program、campaign、invitee、depth）",
    ),
    (SURVEY_ANSWERED, "填写问卷", "客户提交了问卷（属性：survey）"),
    (
        REPLIED_TO_MANAGER,
        "回复客户经理",
        "客户回复了客户经理的消息，由行内系统或会话存档上报（属性：staff）",
    ),
]

# Types the bank's systems report through POST /api/events/ on a new install.
BANK_DEFAULTS = [
    ("app_login", "登录手机银行", "客户登录了手机银行 App"),
    ("product_viewed", "浏览产品", "客户在手机银行浏览了产品（属性：category、product）"),
    ("fund_purchased", "购买基金", "客户申购了基金（属性：product、amount_fen）"),
    ("insurance_purchased", "购买保险", "客户投保（属性：product、amount_fen）"),
    ("card_applied", "申请信用卡", "客户提交了信用卡申请"),
    ("loan_applied", "申请贷款", "客户提交了贷款申请（属性：product）"),
    ("deposit_made", "存款", "客户办理了存款（属性：amount_fen）"),
]

# Built-in types the bank's systems (or a chat-archive integration) may also report.
FROM_API_TOO = {REPLIED_TO_MANAGER}


def event_types_seed(event_type_model) -> int:
    """Create the built-in and default bank types that are missing (never changes one ops
    edited); returns how many were made. Run by the migrations and after every migrate or
    flush, so a database never lacks the types the code records."""
    have = set(event_type_model.objects.values_list("code", flat=True))
    missing = [
        event_type_model(
            code=code,
            name=name,
            description=description,
            builtin=True,
            accept_from_api=code in FROM_API_TOO,
        )
        for code, name, description in BUILTIN
        if code not in have
    ] + [
        event_type_model(code=code, name=name, description=description)
        for code, name, description in BANK_DEFAULTS
        if code not in have
    ]
    event_type_model.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)
