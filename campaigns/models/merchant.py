"""Merchants, their stores and API keys, redemptions (核销) and idempotency records.

A merchant's POS calls the redemption API with a bearer key; the key is shown
once when created and only its SHA-256 is stored. Every external write carries
an ``Idempotency-Key``: the first answer is stored with a fingerprint of the
request and replayed for a retry.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .coupon import Coupon


class Merchant(models.Model):
    name = models.CharField(_("商户名称"), max_length=100)
    region = models.ForeignKey(
        "groups.Region",
        verbose_name=_("地区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("商户")
        verbose_name_plural = _("商户")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.CASCADE, related_name="stores"
    )
    code = models.CharField(_("门店编号"), max_length=32, help_text=_("商户收银系统传入的门店编号"))
    name = models.CharField(_("门店名称"), max_length=100)
    region = models.ForeignKey(
        "groups.Region",
        verbose_name=_("地区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("门店")
        verbose_name_plural = _("门店")
        ordering = ["merchant", "code"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="store_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.merchant} {self.name}"


class MerchantKey(models.Model):
    """An API key of a merchant: ``mk_<prefix>_<secret>``; only the hash is kept."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.CASCADE, related_name="keys"
    )
    name = models.CharField(_("用途"), max_length=60, blank=True)
    prefix = models.CharField(_("密钥前缀"), max_length=16, unique=True)
    key_hash = models.CharField(_("密钥摘要"), max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("吊销人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("商户密钥")
        verbose_name_plural = _("商户密钥")
        ordering = ["merchant", "-created_at"]

    def __str__(self) -> str:
        return f"mk_{self.prefix}_…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class MerchantStaff(models.Model):
    """A login of a merchant's store staff: they redeem on the H5 scan page."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登录账号"),
        on_delete=models.CASCADE,
        related_name="merchant_staff",
    )
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.CASCADE, related_name="staff"
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("门店"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff",
    )

    class Meta:
        verbose_name = _("商户店员")
        verbose_name_plural = _("商户店员")

    def __str__(self) -> str:
        return f"{self.merchant} {self.user}"


class Redemption(models.Model):
    class Status(models.TextChoices):
        REDEEMED = "redeemed", _("已核销")
        REVERSED = "reversed", _("已冲正")

    class Via(models.TextChoices):
        API = "api", _("收银接口")
        H5 = "h5", _("店员扫码")

    coupon = models.ForeignKey(
        Coupon, verbose_name=_("优惠券"), on_delete=models.PROTECT, related_name="redemptions"
    )
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.PROTECT, related_name="redemptions"
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("门店"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redemptions",
    )
    amount_fen = models.PositiveBigIntegerField(_("订单金额（分）"))
    discount_fen = models.PositiveBigIntegerField(_("优惠金额（分）"))
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.REDEEMED
    )
    via = models.CharField(_("方式"), max_length=8, choices=Via.choices, default=Via.API)
    redeemed_at = models.DateTimeField(_("核销时间"), db_index=True)
    reversed_at = models.DateTimeField(_("冲正时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("核销记录")
        verbose_name_plural = _("核销记录")
        ordering = ["-redeemed_at", "-pk"]
        constraints = [
            # At most one standing redemption per coupon, whatever the code does.
            models.UniqueConstraint(
                fields=["coupon"],
                condition=Q(status="redeemed"),
                name="redemption_one_standing_per_coupon",
            ),
            models.CheckConstraint(
                condition=Q(discount_fen__lte=F("amount_fen")), name="redemption_discount_le_amount"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} {self.status}"


class IdempotencyRecord(models.Model):
    """The first answer to an ``Idempotency-Key`` of one caller, replayed on a retry."""

    owner = models.CharField(_("调用方"), max_length=64)
    key = models.CharField(_("幂等键"), max_length=255)
    fingerprint = models.CharField(_("请求摘要"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("状态码"), null=True, blank=True)
    # The answer's exact JSON text: a replay sends the very same bytes.
    body = models.TextField(_("应答"), blank=True, default="")
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("幂等记录")
        verbose_name_plural = _("幂等记录")
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
