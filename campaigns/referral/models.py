"""Referral (老带新, D8) and group fission: a referral campaign's settings and tiers, each
inviter's invite code (a WeCom contact way or group join way with its own ``state``),
the chain of who brought whom, the bank's conversion reports, the rewards per tier,
and the saved audience of key spreaders.

A referral campaign is a ``campaigns.Campaign`` of kind ``referral`` (its lifecycle,
compliance review, audience, verified-only gate, consent and blacklist are the campaign
core's); ``ReferralProgram`` adds what is particular to referral.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class ReferralProgram(models.Model):
    """What makes a campaign a referral: when an invite succeeds, and when rewards pay."""

    class Goal(models.TextChoices):
        ADDED = "added", _("好友添加客户经理")
        JOINED_GROUP = "joined_group", _("好友加入客户群")
        VERIFIED = "verified", _("好友认证为本行客户")
        CARD_OPENED = "card_opened", _("好友开卡成功")

    campaign = models.OneToOneField(
        "campaigns.Campaign",
        verbose_name=_("活动"),
        on_delete=models.CASCADE,
        related_name="referral",
        limit_choices_to={"kind": "referral"},
    )
    goal = models.CharField(
        _("邀请成功条件"),
        max_length=16,
        choices=Goal.choices,
        default=Goal.ADDED,
        help_text=_("认证、开卡由行内系统通过接口回传"),
    )
    group_pool = models.ForeignKey(
        "groups.GroupPool",
        verbose_name=_("邀请入群的群池"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("仅“好友加入客户群”（群裂变）需要：邀请码为该群池当前群的进群二维码"),
    )
    reward_delay_workdays = models.PositiveSmallIntegerField(
        _("奖励发放延迟（工作日）"),
        default=5,
        help_text=_("红包和礼品在达标后第 N 个工作日发放；届时邀请人数不足的档位取消"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("老带新活动")
        verbose_name_plural = _("老带新活动")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(goal="joined_group") | Q(group_pool__isnull=False),
                name="referral_group_goal_needs_pool",
            )
        ]

    def __str__(self) -> str:
        return str(self.campaign)

    @property
    def is_group_fission(self) -> bool:
        return self.goal == self.Goal.JOINED_GROUP


class ReferralTier(models.Model):
    """A reward step: at ``threshold`` successful invites the inviter gets this, once."""

    class Kind(models.TextChoices):
        COUPON = "coupon", _("优惠券")
        RED_PACKET = "red_packet", _("红包")
        GIFT = "gift", _("礼品")

    program = models.ForeignKey(
        ReferralProgram,
        verbose_name=_("老带新活动"),
        on_delete=models.CASCADE,
        related_name="tiers",
    )
    threshold = models.PositiveSmallIntegerField(_("成功邀请人数"))
    kind = models.CharField(_("奖励类型"), max_length=16, choices=Kind.choices)
    coupon_template = models.ForeignKey(
        "campaigns.CouponTemplate",
        verbose_name=_("优惠券模板"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("本活动的优惠券模板"),
    )
    amount_fen = models.PositiveIntegerField(_("红包金额（分）"), null=True, blank=True)
    gift_name = models.CharField(_("礼品名称"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("奖励档位")
        verbose_name_plural = _("奖励档位")
        ordering = ["program", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "threshold"], name="referral_tier_threshold_unique"
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=1), name="referral_tier_threshold_pos"
            ),
            models.CheckConstraint(
                condition=(Q(kind="coupon") & Q(coupon_template__isnull=False))
                | (Q(kind="red_packet") & Q(amount_fen__gt=0))
                | (Q(kind="gift") & ~Q(gift_name="")),
                name="referral_tier_reward_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"≥{self.threshold}: {self.get_kind_display()}"


class InviteCode(models.Model):
    """An inviter's personal invite: a contact way of their manager (or a join way of the
    program's groups) carrying a ``state`` that names this code (≤ 30 chars, WeCom's limit)."""

    program = models.ForeignKey(
        ReferralProgram,
        verbose_name=_("老带新活动"),
        on_delete=models.CASCADE,
        related_name="codes",
    )
    inviter = models.ForeignKey(
        "contacts.Customer", verbose_name=_("邀请人"), on_delete=models.CASCADE, related_name="+"
    )
    staff = models.ForeignKey(
        "contacts.Staff",
        verbose_name=_("客户经理"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    state = models.CharField(_("state"), max_length=30, unique=True)
    config_id = models.CharField(_("企业微信 config_id"), max_length=64, blank=True)
    qr_code = models.URLField(_("二维码"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("邀请码")
        verbose_name_plural = _("邀请码")
        ordering = ["-created_at"]
        permissions = [("make_invite_links", _("通过接口获取客户的专属邀请链接"))]
        constraints = [
            models.UniqueConstraint(fields=["program", "inviter"], name="referral_code_unique")
        ]

    def __str__(self) -> str:
        return self.state


class Invitation(models.Model):
    """One customer brought in by another through an invite code: a link of the chain.

    An invitee is invited at most once per program (the first code wins). ``depth`` is
    the inviter's depth plus one (customers nobody invited are depth 0). A refused
    invitation (self-invite, same phone, an existing customer) is kept with its reason.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待达成")
        SUCCEEDED = "succeeded", _("邀请成功")
        LAPSED = "lapsed", _("已失效")
        REFUSED = "refused", _("已拒绝")

    class Refusal(models.TextChoices):
        SELF_INVITE = "self_invite", _("自己邀请自己")
        SAME_PHONE = "same_phone", _("邀请人与被邀请人手机号相同")
        EXISTING_CUSTOMER = "existing_customer", _("被邀请人已是本行企业微信客户")
        BLOCKED = "blocked", _("黑名单客户")
        NOT_LIVE = "not_live", _("活动未开始或已结束")

    class Lapse(models.TextChoices):
        REMOVED_MANAGER = "removed_manager", _("删除了客户经理")
        LEFT_GROUP = "left_group", _("退出了客户群")

    program = models.ForeignKey(
        ReferralProgram,
        verbose_name=_("老带新活动"),
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    code = models.ForeignKey(
        InviteCode, verbose_name=_("邀请码"), on_delete=models.CASCADE, related_name="invitations"
    )
    inviter = models.ForeignKey(
        "contacts.Customer", verbose_name=_("邀请人"), on_delete=models.CASCADE, related_name="+"
    )
    invitee = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("被邀请人"),
        on_delete=models.CASCADE,
        related_name="referral_invitations",
    )
    staff = models.ForeignKey(
        "contacts.Staff",
        verbose_name=_("添加的客户经理"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    group = models.ForeignKey(
        "groups.CustomerGroup",
        verbose_name=_("加入的客户群"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    depth = models.PositiveSmallIntegerField(_("层级"), default=1)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    refusal = models.CharField(_("拒绝原因"), max_length=24, choices=Refusal.choices, blank=True)
    lapse = models.CharField(_("失效原因"), max_length=24, choices=Lapse.choices, blank=True)
    invited_at = models.DateTimeField(_("邀请时间"))
    succeeded_at = models.DateTimeField(_("成功时间"), null=True, blank=True)
    lapsed_at = models.DateTimeField(_("失效时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("邀请记录")
        verbose_name_plural = _("邀请记录")
        ordering = ["-invited_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "invitee"], name="referral_invitee_once_per_program"
            ),
            models.CheckConstraint(
                condition=Q(status="refused") | ~Q(invitee=F("inviter")),
                name="referral_no_self_invite",
            ),
            models.CheckConstraint(condition=Q(depth__gte=1), name="referral_depth_pos"),
        ]
        indexes = [models.Index(fields=["program", "inviter", "status"])]

    def __str__(self) -> str:
        return f"{self.inviter_id} → {self.invitee_id}"


class Conversion(models.Model):
    """The bank's systems say a customer was verified as a bank customer or opened a card."""

    class Kind(models.TextChoices):
        VERIFIED = "verified", _("认证为本行客户")
        CARD_OPENED = "card_opened", _("开卡成功")

    customer = models.ForeignKey(
        "contacts.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    reference = models.CharField(_("行内流水号"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    reported_at = models.DateTimeField(_("回传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("转化回传")
        verbose_name_plural = _("转化回传")
        ordering = ["-reported_at"]
        permissions = [("report_conversions", _("通过接口回传老带新转化（认证、开卡）"))]
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind"], name="referral_conversion_once")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind}"


class ReferralReward(models.Model):
    """A tier reached by an inviter: paid once (unique per program, inviter and tier).

    Coupons are granted when the tier is reached. Red packets and gifts wait until
    ``due_on``; on that day the inviter's successful invites are counted again and the
    reward goes to the payout ledger (or to fulfilment), or is cancelled when the count
    fell below the tier. A cancelled reward is armed again if the count comes back.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("待发放")
        GRANTED = "granted", _("已发放")
        CANCELLED = "cancelled", _("已取消")
        FAILED = "failed", _("发放失败")

    program = models.ForeignKey(
        ReferralProgram,
        verbose_name=_("老带新活动"),
        on_delete=models.CASCADE,
        related_name="rewards",
    )
    tier = models.ForeignKey(
        ReferralTier, verbose_name=_("档位"), on_delete=models.PROTECT, related_name="rewards"
    )
    inviter = models.ForeignKey(
        "contacts.Customer", verbose_name=_("邀请人"), on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.WAITING, db_index=True
    )
    reached_at = models.DateTimeField(_("达标时间"))
    due_on = models.DateField(_("发放日"), db_index=True)
    settled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    coupon = models.ForeignKey(
        "campaigns.Coupon",
        verbose_name=_("优惠券"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    payout = models.ForeignKey(
        "payouts.Payout",
        verbose_name=_("红包发放记录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    gift_fulfilled_at = models.DateTimeField(_("礼品已发放"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("邀请奖励")
        verbose_name_plural = _("邀请奖励")
        ordering = ["-reached_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "inviter", "tier"], name="referral_reward_once_per_tier"
            )
        ]

    def __str__(self) -> str:
        return f"{self.inviter_id} {self.tier}"


class Segment(models.Model):
    """A saved, reusable audience: a named list of customers, refreshed by whoever owns it.

    Small on purpose (the key spreaders use it); the segments work will generalise it.
    """

    name = models.CharField(_("名称"), max_length=60, unique=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    customers = models.ManyToManyField(
        "contacts.Customer",
        verbose_name=_("客户"),
        through="SegmentMember",
        related_name="+",
    )
    refreshed_at = models.DateTimeField(_("更新时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("客户分群")
        verbose_name_plural = _("客户分群")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    segment = models.ForeignKey(
        Segment, verbose_name=_("分群"), on_delete=models.CASCADE, related_name="members"
    )
    customer = models.ForeignKey(
        "contacts.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="+"
    )
    rank = models.PositiveIntegerField(_("排名"), default=0)
    added_at = models.DateTimeField(_("加入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("分群成员")
        verbose_name_plural = _("分群成员")
        ordering = ["segment", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.customer_id}"
