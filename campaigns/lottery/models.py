"""A lottery campaign's prize table, its draws and the counters of draw limits (D7).

A lottery is a ``campaigns.Campaign`` of kind ``lottery`` (its audience, verified-only
gate, review, life cycle, blacklist and velocity limits are the campaign core's) with
one ``Lottery`` row of settings and its ``Prize`` rows. The campaign's budget is the
lottery's: every prize won holds its cost in ``Campaign.budget_committed_fen``.

Stock, budget and limits are never counted and then inserted: a draw takes the prize's
stock and the budget with guarded UPDATEs and bumps one ``DrawCounter`` per limit with a
guarded upsert, in the transaction that records the ``Draw``. Check constraints back
every guard.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Coupon, CouponTemplate


class Lottery(models.Model):
    """How a lottery campaign draws: everyone-wins mode and the per-customer limits."""

    campaign = models.OneToOneField(
        Campaign,
        verbose_name=_("活动"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="lottery",
    )
    everyone_wins = models.BooleanField(
        _("人人有奖"),
        default=False,
        help_text=_("每次抽奖都中奖：须设一个保底奖，保底奖发不出时不再开放抽奖"),
    )
    draws_per_customer = models.PositiveIntegerField(
        _("每位客户总抽奖次数"), null=True, blank=True, default=1, help_text=_("不填为不限")
    )
    draws_per_day = models.PositiveIntegerField(
        _("每位客户每日抽奖次数"), null=True, blank=True, default=1, help_text=_("不填为不限")
    )

    class Meta:
        verbose_name = _("抽奖设置")
        verbose_name_plural = _("抽奖设置")
        constraints = [
            models.CheckConstraint(
                condition=Q(draws_per_customer__isnull=True) | Q(draws_per_customer__gte=1),
                name="lottery_draws_per_customer_pos",
            ),
            models.CheckConstraint(
                condition=Q(draws_per_day__isnull=True) | Q(draws_per_day__gte=1),
                name="lottery_draws_per_day_pos",
            ),
        ]

    def __str__(self) -> str:
        return str(self.campaign_id)


class Prize(models.Model):
    """One row of the prize table: what it is, its weight, its own stock and its cost."""

    class Kind(models.TextChoices):
        COUPON = "coupon", _("优惠券")
        RED_PACKET = "red_packet", _("红包")
        GIFT = "gift", _("实物礼品")
        THANKS = "thanks", _("谢谢参与")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("活动"), on_delete=models.CASCADE, related_name="prizes"
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    name = models.CharField(_("奖品名称"), max_length=40, help_text=_("客户在抽奖页看到的名称"))
    description = models.CharField(
        _("奖品说明"), max_length=200, blank=True, help_text=_("客户在抽奖页看到的说明")
    )
    kind = models.CharField(_("奖品类型"), max_length=16, choices=Kind.choices)
    weight = models.PositiveIntegerField(
        _("权重"), help_text=_("中奖概率 = 本奖权重 / 所有可抽奖品权重之和")
    )
    total_stock = models.PositiveIntegerField(
        _("总库存"), null=True, blank=True, help_text=_("仅“谢谢参与”可不填（不限）")
    )
    stock_remaining = models.IntegerField(_("剩余库存"), null=True, blank=True)
    coupon_template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("优惠券模板"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("优惠券奖品：本活动的优惠券模板"),
    )
    amount_fen = models.PositiveBigIntegerField(
        _("红包金额（分）"), null=True, blank=True, help_text=_("红包奖品：1 元至 200 元")
    )
    gift_cost_fen = models.PositiveBigIntegerField(
        _("礼品成本（分）"), null=True, blank=True, help_text=_("实物礼品：计入预算的成本")
    )
    # What one draw of this prize takes from the budget: the red packet's amount, the
    # coupon template's largest possible cost (every instalment), the gift's cost.
    cost_fen = models.BigIntegerField(_("单次成本（分）"), default=0)
    is_consolation = models.BooleanField(
        _("保底奖"), default=False, help_text=_("人人有奖模式下保证每位抽奖客户都能得到的奖品")
    )

    class Meta:
        verbose_name = _("奖品")
        verbose_name_plural = _("奖品")
        ordering = ["campaign", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gt=0), name="prize_weight_pos"),
            models.CheckConstraint(condition=Q(cost_fen__gte=0), name="prize_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(total_stock__isnull=True, stock_remaining__isnull=True)
                | Q(
                    total_stock__isnull=False,
                    stock_remaining__gte=0,
                    stock_remaining__lte=F("total_stock"),
                ),
                name="prize_stock_within_total",
            ),
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(is_consolation=True),
                name="prize_one_consolation",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Draw(models.Model):
    """One draw of one customer, with everything that decided it (so it replays):
    the random number, the prizes that were drawable with their weights, the stock and
    budget seen, and why the others were not drawable."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("活动"), on_delete=models.PROTECT, related_name="draws"
    )
    customer = models.ForeignKey(
        "contacts.Customer", verbose_name=_("客户"), on_delete=models.PROTECT, related_name="+"
    )
    prize = models.ForeignKey(
        Prize, verbose_name=_("奖品"), on_delete=models.PROTECT, related_name="draws"
    )
    won = models.BooleanField(_("中奖"))
    cost_fen = models.BigIntegerField(_("占用预算（分）"), default=0)
    roll = models.BigIntegerField(_("随机数"))
    total_weight = models.BigIntegerField(_("可抽权重之和"))
    inputs = models.JSONField(_("抽奖依据"))
    coupon = models.ForeignKey(
        Coupon,
        verbose_name=_("优惠券"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    payout = models.ForeignKey(
        "payouts.Payout",
        verbose_name=_("发放记录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    gift_handed_over_at = models.DateTimeField(_("礼品交付时间"), null=True, blank=True)
    gift_handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("礼品交付登记人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    request_key = models.CharField(_("请求键"), max_length=64, blank=True)
    day = models.DateField(_("日期"))
    drawn_at = models.DateTimeField(_("抽奖时间"), db_index=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("抽奖记录")
        verbose_name_plural = _("抽奖记录")
        ordering = ["-drawn_at", "-pk"]
        indexes = [
            models.Index(fields=["campaign", "prize"], name="draw_campaign_prize_idx"),
            models.Index(fields=["campaign", "customer"], name="draw_campaign_customer_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "request_key"],
                condition=~Q(request_key=""),
                name="draw_request_key_unique",
            ),
            models.CheckConstraint(condition=Q(cost_fen__gte=0), name="draw_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(roll__gte=0, roll__lt=F("total_weight")), name="draw_roll_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.customer_id} {self.prize_id}"


class DrawCounter(models.Model):
    """Draws counted against one limit: ``l<campaign>:u<customer>`` (the campaign) or
    ``l<campaign>:u<customer>:<yyyymmdd>`` (one Asia/Shanghai day). A draw bumps ``n``
    only while ``n < cap`` (one guarded upsert), in the draw's transaction."""

    key = models.CharField(_("键"), max_length=96, primary_key=True)
    n = models.PositiveIntegerField(_("已抽"), default=0)
    cap = models.PositiveIntegerField(_("上限"))

    class Meta:
        verbose_name = _("抽奖计数")
        verbose_name_plural = _("抽奖计数")
        constraints = [
            models.CheckConstraint(condition=Q(n__lte=F("cap")), name="draw_counter_within_cap")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.n}/{self.cap}"


class LotteryCampaign(Campaign):
    """Lottery campaigns in the admin: the campaign with its prize table and report."""

    class Meta:
        proxy = True
        verbose_name = _("抽奖活动")
        verbose_name_plural = _("抽奖活动")
