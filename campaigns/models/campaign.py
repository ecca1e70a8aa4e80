"""Campaigns, their A/B variants, status history, contacts and announcements (D7, D13).

One ``Campaign`` model for every benefit kind: coupons now; lotteries, red packets
and referrals add kinds and their own rows later. A campaign's configuration is
frozen once it leaves the draft status: what compliance approved is what runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    class Kind(models.TextChoices):
        COUPON = "coupon", _("优惠券")
        LOTTERY = "lottery", _("抽奖")
        RED_PACKET = "red_packet", _("红包")
        REFERRAL = "referral", _("老带新")

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PENDING = "pending", _("待合规审核")
        APPROVED = "approved", _("已通过审核")
        LIVE = "live", _("进行中")
        PAUSED = "paused", _("已暂停")
        ENDED = "ended", _("已结束")

    class Category(models.TextChoices):
        """Products whose marketing needs the customer's explicit yes (D14)."""

        WEALTH = "wealth", _("理财")
        FUND = "fund", _("基金")
        INSURANCE = "insurance", _("保险")
        LOAN = "loan", _("贷款")

    name = models.CharField(_("名称"), max_length=100, help_text=_("仅内部使用"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.COUPON)
    title = models.CharField(_("活动标题"), max_length=60, help_text=_("客户在领取页看到的标题"))
    rules_text = models.TextField(_("活动规则"), blank=True, help_text=_("客户在领取页看到的规则"))
    product_category = models.CharField(
        _("营销产品类别"),
        max_length=16,
        choices=Category.choices,
        blank=True,
        help_text=_("理财、基金、保险、贷款类活动只发给明确同意接收该类营销的客户"),
    )
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    budget_fen = models.PositiveBigIntegerField(
        _("预算（分）"), null=True, blank=True, help_text=_("不填为不限预算")
    )
    # Every claimed or redeemed coupon holds its template's largest possible cost
    # (face value or discount cap) until it expires; so the budget is never overdrawn.
    budget_committed_fen = models.BigIntegerField(_("已占用预算（分）"), default=0)
    verified_only = models.BooleanField(_("仅限认证客户"), default=True)
    audience_groups = models.ManyToManyField(
        "groups.CustomerGroup", verbose_name=_("目标客户群"), blank=True, related_name="+"
    )
    audience_pools = models.ManyToManyField(
        "groups.GroupPool", verbose_name=_("目标群池"), blank=True, related_name="+"
    )
    audience_regions = models.ManyToManyField(
        "groups.Region",
        verbose_name=_("目标地区"),
        blank=True,
        related_name="+",
        help_text=_("含下级地区；客户群、群池、地区都不选时面向全部客户"),
    )
    per_customer_limit = models.PositiveIntegerField(
        _("每位客户限领"), null=True, blank=True, default=1, help_text=_("不填为不限")
    )
    velocity_ip_per_hour = models.PositiveIntegerField(
        _("每个IP每小时限领"), null=True, blank=True, default=30, help_text=_("不填为不限")
    )
    velocity_phone_per_hour = models.PositiveIntegerField(
        _("每个手机号每小时限领"), null=True, blank=True, default=5, help_text=_("不填为不限")
    )
    reversal_window_minutes = models.PositiveIntegerField(
        _("冲正时限（分钟）"), default=24 * 60, help_text=_("核销后多长时间内商户可以冲正")
    )
    announcement = models.ForeignKey(
        "content.Content",
        verbose_name=_("活动通知内容"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("须为已通过合规审核的内容"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    review_comment = models.TextField(_("审核意见"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("营销活动")
        verbose_name_plural = _("营销活动")
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="campaign_period_valid"
            ),
            models.CheckConstraint(
                condition=Q(budget_committed_fen__gte=0), name="campaign_budget_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(budget_fen__isnull=True) | Q(budget_committed_fen__lte=F("budget_fen")),
                name="campaign_budget_not_overdrawn",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class CampaignReviewQueue(Campaign):
    """Compliance's inbox of campaigns: those waiting for a decision."""

    class Meta:
        proxy = True
        verbose_name = _("待审核活动")
        verbose_name_plural = _("待审核活动")


class CampaignVariant(models.Model):
    """One arm of an A/B test: its own coupon template or incentive text (D13)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("活动"), on_delete=models.CASCADE, related_name="variants"
    )
    key = models.CharField(_("编号"), max_length=8, help_text=_("例如 A、B"))
    name = models.CharField(_("名称"), max_length=60, blank=True)
    weight = models.PositiveSmallIntegerField(_("分流权重"), default=50)
    template = models.ForeignKey(
        "campaigns.CouponTemplate",
        verbose_name=_("优惠券模板"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="variants",
        help_text=_("不选时可领本活动的全部优惠券"),
    )
    message = models.CharField(
        _("激励文案"), max_length=200, blank=True, help_text=_("客户在领取页看到的文案")
    )

    class Meta:
        verbose_name = _("A/B 方案")
        verbose_name_plural = _("A/B 方案")
        ordering = ["campaign", "key"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "key"], name="campaign_variant_key_unique"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="campaign_variant_weight_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name}".strip()


class CampaignStatusChange(models.Model):
    """Every status change of a campaign: who, when, from what to what (also audited)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("活动"), on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(
        _("原状态"), max_length=16, choices=Campaign.Status.choices, blank=True
    )
    to_status = models.CharField(_("新状态"), max_length=16, choices=Campaign.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    comment = models.TextField(_("说明"), blank=True)
    at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("状态变更")
        verbose_name_plural = _("状态变更")
        ordering = ["campaign", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"


class CampaignContact(models.Model):
    """A customer's first contact with a campaign: their A/B variant, kept for good,
    and the funnel steps reached (targeted, link opened)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("活动"), on_delete=models.CASCADE, related_name="contacts"
    )
    customer = models.ForeignKey(
        "contacts.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="+"
    )
    variant = models.ForeignKey(
        CampaignVariant,
        verbose_name=_("A/B 方案"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts",
    )
    first_contact_at = models.DateTimeField(_("首次接触时间"))
    targeted_at = models.DateTimeField(_("触达时间"), null=True, blank=True)
    opened_at = models.DateTimeField(_("打开链接时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("活动触达")
        verbose_name_plural = _("活动触达")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_contact_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.customer_id}"


class Announcement(models.Model):
    """A campaign announced to one customer by their manager (a 1:1 WeCom message
    carrying the customer's personal claim link; the manager confirms it in WeCom)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        CALLING = "calling", _("发送中")
        SENT = "sent", _("已提交企业微信")
        SKIPPED = "skipped", _("已跳过")
        FAILED = "failed", _("失败")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("活动"), on_delete=models.CASCADE, related_name="announcements"
    )
    customer = models.ForeignKey(
        "contacts.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="+"
    )
    staff = models.ForeignKey(
        "contacts.Staff",
        verbose_name=_("发送员工"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reason = models.CharField(_("原因"), max_length=64, blank=True)
    msgid = models.CharField(_("消息ID"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    called_at = models.DateTimeField(_("调用时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("活动通知")
        verbose_name_plural = _("活动通知")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"], name="campaign_announcement_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.customer_id} {self.status}"


class MarketingConsent(models.Model):
    """One recorded answer of a customer about marketing of a product category.

    Append-only: the latest record per customer and category is the one that holds.
    Kept at least five years (the record says who asked, how and when).
    """

    class Source(models.TextChoices):
        H5 = "h5", _("客户自助（H5）")
        BRANCH = "branch", _("网点纸质/柜面")
        MANAGER = "manager", _("客户经理记录")
        BANK_SYSTEM = "bank_system", _("行内系统")

    RETENTION_YEARS = 5

    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        on_delete=models.PROTECT,
        related_name="marketing_consents",
    )
    category = models.CharField(_("产品类别"), max_length=16, choices=Campaign.Category.choices)
    granted = models.BooleanField(_("同意接收"))
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    recorded_at = models.DateTimeField(_("记录时间"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("记录人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("营销授权")
        verbose_name_plural = _("营销授权")
        ordering = ["-recorded_at", "-pk"]
        indexes = [models.Index(fields=["customer", "category", "-recorded_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.category} {'✓' if self.granted else '✗'}"
