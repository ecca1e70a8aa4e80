"""Coupon hunters (羊毛党): every refused claim with its reason, and the blacklist (D4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .campaign import Campaign
from .coupon import CouponTemplate


class ClaimRefusal(models.Model):
    """A claim that was refused, and why (``code``: out_of_stock, limit_reached, …)."""

    class Code(models.TextChoices):
        OUT_OF_STOCK = "out_of_stock", _("已领完")
        LIMIT_REACHED = "limit_reached", _("超出领取限制")
        NOT_ELIGIBLE = "not_eligible", _("不符合领取条件")
        CAMPAIGN_NOT_LIVE = "campaign_not_live", _("活动未进行")
        LINK_INVALID = "link_invalid", _("链接无效")
        BLOCKED = "blocked", _("已拦截")

    at = models.DateTimeField(_("时间"), db_index=True)
    code = models.CharField(_("原因"), max_length=24, choices=Code.choices)
    reason = models.CharField(_("说明"), max_length=64, blank=True)
    source = models.CharField(_("来源"), max_length=8)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("活动"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="refusals",
    )
    template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("模板"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("拒绝领取记录")
        verbose_name_plural = _("拒绝领取记录")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["campaign", "code"], name="refusal_campaign_code_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.code}"


class Blacklist(models.Model):
    """A phone (by hash) or a customer that may not claim. Ops manage the list;
    an entry is lifted (kept for the record), never deleted."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("手机号")
        CUSTOMER = "customer", _("客户")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, blank=True, db_index=True)
    phone_masked = models.CharField(_("手机号"), max_length=20, blank=True)
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    reason = models.CharField(_("原因"), max_length=200)
    is_active = models.BooleanField(_("生效"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("添加人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("添加时间"), auto_now_add=True)
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("黑名单")
        verbose_name_plural = _("黑名单")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_hash"],
                condition=Q(is_active=True, kind="phone"),
                name="blacklist_one_active_phone",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_active=True, kind="customer"),
                name="blacklist_one_active_customer",
            ),
            models.CheckConstraint(
                condition=(Q(kind="phone") & ~Q(phone_hash=""))
                | (Q(kind="customer") & Q(customer__isnull=False)),
                name="blacklist_entry_names_its_target",
            ),
        ]

    def __str__(self) -> str:
        return self.phone_masked or str(self.customer_id)
