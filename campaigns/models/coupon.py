"""Coupon templates, claimed coupons and the counters that enforce claim limits (D7).

Stock and limits are never counted and then inserted: a claim decrements
``CouponTemplate.stock_remaining`` with a guarded UPDATE and bumps one
``ClaimCounter`` row per limit with a guarded upsert, in the transaction that
inserts the coupon (see ``campaigns.services.claims``). Check constraints make
an overdrawn stock or budget impossible even for code that forgets the guard.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .campaign import Campaign, CampaignVariant


class CouponTemplate(models.Model):
    class Kind(models.TextChoices):
        PERCENT_OFF = "percent_off", _("折扣券")
        AMOUNT_OFF = "amount_off", _("满减券")
        VOUCHER = "voucher", _("兑换券")
        INSTALMENT = "instalment", _("分期礼金")

    class Validity(models.TextChoices):
        FIXED = "fixed", _("固定日期")
        RELATIVE = "relative", _("领取后 N 天")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("活动"), on_delete=models.CASCADE, related_name="templates"
    )
    title = models.CharField(_("券名称"), max_length=60, help_text=_("客户看到的名称"))
    description = models.TextField(_("使用说明"), blank=True, help_text=_("客户看到的说明"))
    kind = models.CharField(_("券类型"), max_length=16, choices=Kind.choices)
    percent_off = models.PositiveSmallIntegerField(
        _("减免比例（%）"), null=True, blank=True, help_text=_("折扣券：五折填 50")
    )
    face_value_fen = models.PositiveBigIntegerField(
        _("面值（分）"),
        null=True,
        blank=True,
        help_text=_("满减券、兑换券的面值；分期礼金为每期金额"),
    )
    max_discount_fen = models.PositiveBigIntegerField(
        _("最高优惠（分）"), null=True, blank=True, help_text=_("折扣券必填")
    )
    min_spend_fen = models.PositiveBigIntegerField(_("最低消费（分）"), default=0)
    instalments = models.PositiveSmallIntegerField(
        _("发放期数"), default=1, help_text=_("分期礼金：例如入群礼金分 3 期发放")
    )
    instalment_interval_days = models.PositiveSmallIntegerField(_("每期间隔（天）"), default=30)
    merchants = models.ManyToManyField(
        "campaigns.Merchant",
        verbose_name=_("适用商户"),
        blank=True,
        related_name="templates",
        help_text=_("不选为不限商户"),
    )
    regions = models.ManyToManyField(
        "groups.Region",
        verbose_name=_("适用地区"),
        blank=True,
        related_name="+",
        help_text=_("含下级地区；不选为不限地区"),
    )
    valid_weekdays = ArrayField(
        models.PositiveSmallIntegerField(),
        verbose_name=_("可用星期"),
        default=list,
        blank=True,
        help_text=_("1=周一 … 7=周日，逗号分隔；不填为每天"),
    )
    valid_time_from = models.TimeField(_("每日可用开始"), null=True, blank=True)
    valid_time_until = models.TimeField(_("每日可用结束"), null=True, blank=True)
    validity = models.CharField(
        _("有效期类型"), max_length=16, choices=Validity.choices, default=Validity.RELATIVE
    )
    valid_from_date = models.DateField(_("有效期开始日"), null=True, blank=True)
    valid_until_date = models.DateField(_("有效期结束日"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(_("领取后有效天数"), null=True, blank=True)
    total_stock = models.PositiveIntegerField(_("总库存"))
    stock_remaining = models.IntegerField(_("剩余库存"))
    daily_stock = models.PositiveIntegerField(
        _("每日库存"), null=True, blank=True, help_text=_("不填为不限")
    )
    # Claims on ``claim_day`` (Asia/Shanghai); the first claim of a new day resets it.
    day_claimed = models.PositiveIntegerField(_("当日已领"), default=0)
    claim_day = models.DateField(_("当日"), null=True, blank=True)
    per_customer_limit = models.PositiveIntegerField(
        _("每位客户限领"), null=True, blank=True, help_text=_("不填为不限")
    )
    per_phone_limit = models.PositiveIntegerField(
        _("每个手机号限领"), null=True, blank=True, help_text=_("按手机号摘要计；不填为不限")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("优惠券模板")
        verbose_name_plural = _("优惠券模板")
        ordering = ["campaign", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stock_remaining__gte=0), name="coupon_stock_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(stock_remaining__lte=F("total_stock")), name="coupon_stock_le_total"
            ),
            models.CheckConstraint(condition=Q(instalments__gte=1), name="coupon_instalments_pos"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def cost_cap_fen(self) -> int:
        """The most one coupon of this template can cost: what a claim reserves of the budget."""
        if self.kind == self.Kind.PERCENT_OFF:
            return int(self.max_discount_fen or 0)
        return int(self.face_value_fen or 0)

    def discount_for(self, amount_fen: int) -> int:
        """The discount on an order of ``amount_fen`` (integer fen, rounded down)."""
        if self.kind == self.Kind.PERCENT_OFF:
            discount = amount_fen * int(self.percent_off or 0) // 100
            if self.max_discount_fen is not None:
                discount = min(discount, int(self.max_discount_fen))
            return discount
        return min(int(self.face_value_fen or 0), amount_fen)


class Coupon(models.Model):
    """One claimed coupon. ``code`` is what the merchant scans: 15 random symbols
    and a check symbol (``campaigns.codes``)."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("已领取")
        REDEEMED = "redeemed", _("已核销")
        EXPIRED = "expired", _("已过期")

    class Source(models.TextChoices):
        LINK = "link", _("客户领取")
        API = "api", _("行内系统发放")

    # Every claim writes each index of this table: the unique code's (a constraint, so no
    # second LIKE index), and the campaign's and customer's lookups come from the two
    # composite indexes below, which they lead (no single-column FK indexes).
    code = models.CharField(_("券码"), max_length=16)
    # The campaign and the template are the hottest rows of a claim. A foreign-key
    # constraint would check (and share-lock) both for every coupon inserted, which
    # costs as much as the claim itself; the claim statement only inserts when its
    # guarded update found the template of that campaign, and a database trigger
    # (migration 0009) refuses to delete a campaign or template that has coupons.
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("活动"),
        on_delete=models.PROTECT,
        related_name="coupons",
        db_index=False,
        db_constraint=False,
    )
    template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("模板"),
        on_delete=models.PROTECT,
        related_name="coupons",
        db_constraint=False,
    )
    variant = models.ForeignKey(
        CampaignVariant,
        verbose_name=_("A/B 方案"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupons",
    )
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, blank=True)
    claim_ref = models.UUIDField(_("领取批次"))
    instalment_no = models.PositiveSmallIntegerField(_("期数"), default=1)
    source = models.CharField(_("来源"), max_length=8, choices=Source.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.CLAIMED
    )
    reserved_fen = models.BigIntegerField(_("占用预算（分）"), default=0)
    valid_from = models.DateTimeField(_("生效时间"))
    valid_until = models.DateTimeField(_("失效时间"))
    claimed_at = models.DateTimeField(_("领取时间"), db_index=True)
    redeemed_at = models.DateTimeField(_("核销时间"), null=True, blank=True)
    expired_at = models.DateTimeField(_("过期时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("领券记录")
        verbose_name_plural = _("领券记录")
        ordering = ["-claimed_at", "-pk"]
        permissions = [("issue_coupons", _("通过接口为客户发放优惠券"))]
        indexes = [
            models.Index(fields=["status", "valid_until"], name="coupon_status_until_idx"),
            models.Index(fields=["customer", "campaign"], name="coupon_customer_campaign_idx"),
            models.Index(fields=["campaign", "status"], name="coupon_campaign_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="coupon_code_unique"),
            models.CheckConstraint(
                condition=Q(valid_until__gt=F("valid_from")), name="coupon_validity_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="redeemed", redeemed_at__isnull=False)
                | (~Q(status="redeemed") & Q(redeemed_at__isnull=True)),
                name="coupon_redeemed_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class ClaimCounter(models.Model):
    """Claims counted against one limit: ``c<campaign>:u<customer>``,
    ``t<template>:u<customer>`` or ``t<template>:p<phone hash>``. A claim bumps
    ``n`` only while ``n < cap`` (one guarded upsert), in the claim's transaction."""

    key = models.CharField(_("键"), max_length=96, primary_key=True)
    n = models.PositiveIntegerField(_("已领"), default=0)
    cap = models.PositiveIntegerField(_("上限"))

    class Meta:
        verbose_name = _("领取计数")
        verbose_name_plural = _("领取计数")
        constraints = [
            models.CheckConstraint(condition=Q(n__lte=F("cap")), name="claim_counter_within_cap")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.n}/{self.cap}"
