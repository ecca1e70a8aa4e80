"""What the payment channels remember: customers' payment openids."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentOpenId(models.Model):
    """A customer's openid in the corp's payment app (``convert_to_openid``), kept once known:
    it never changes for a corp and a customer, and every payout needs it."""

    external_userid = models.CharField(_("外部联系人ID"), max_length=64, unique=True)
    openid = models.CharField(_("openid"), max_length=64)
    fetched_at = models.DateTimeField(_("获取时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("支付 openid")
        verbose_name_plural = _("支付 openid")

    def __str__(self) -> str:
        return self.external_userid
