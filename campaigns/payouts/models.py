"""The payout ledger (D7): every money reward is one ``Payout`` row.

An entry is scheduled for a day (possibly N Chinese working days later, with
conditions checked on that day), sent through the payment adapter under its own
bill number, and paid once: a retry after a timeout or a crash reuses the bill
number, which the channel pays at most once. Every send is a ``PayoutAttempt``.

Budgets and caps are never counted and then compared: the campaign's budget is
taken with a guarded UPDATE of ``Campaign.budget_committed_fen`` when the entry
is scheduled, and the daily caps (per customer, per campaign, for the day) are
``PayoutDayCounter`` rows bumped by a guarded upsert when an entry is sent.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign


class Payout(models.Model):
    class Reason(models.TextChoices):
        RED_PACKET = "red_packet", _("红包")
        LOTTERY_PRIZE = "lottery_prize", _("抽奖现金奖")
        REFERRAL_REWARD = "referral_reward", _("推荐奖励")
        INSTALMENT = "instalment", _("分期礼金")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("待发放")
        SENDING = "sending", _("发放中")
        PAID = "paid", _("已发放")
        FAILED = "failed", _("发放失败待重试")
        GIVEN_UP = "given_up", _("已放弃")
        CANCELLED = "cancelled", _("已取消")

    class Condition(models.TextChoices):
        GROUP_MEMBER = "group_member", _("发放日仍在群内")
        FRIEND = "friend", _("发放日仍是客户经理好友")
        VERIFIED = "verified", _("发放日已认证")

    class CancelReason(models.TextChoices):
        LEFT_GROUP = "left_group", _("发放日前已退群")
        NOT_FRIEND = "not_friend", _("发放日已不是客户经理好友")
        NOT_VERIFIED = "not_verified", _("发放日未认证")
        NO_OPENID = "no_openid", _("无法取得客户的支付 openid")
        CAMPAIGN_STOPPED = "campaign_stopped", _("活动已停止")
        BY_OPS = "by_ops", _("运营取消")

    campaign = models.ForeignKey(
        "campaigns.Campaign", verbose_name=_("活动"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        "contacts.Customer", verbose_name=_("客户"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("发放原因"), max_length=24, choices=Reason.choices)
    amount_fen = models.PositiveBigIntegerField(_("金额（分）"))
    bill_no = models.CharField(_("商户单号"), max_length=28, unique=True)
    source_key = models.CharField(_("来源键"), max_length=128, unique=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.SCHEDULED
    )
    due_on = models.DateField(_("发放日"))
    conditions = models.JSONField(_("发放条件"), default=list, blank=True)
    staff = models.ForeignKey(
        "contacts.Staff",
        verbose_name=_("客户经理"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    group = models.ForeignKey(
        "groups.CustomerGroup",
        verbose_name=_("客户群"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    budget_reserved = models.BooleanField(_("预算由调用方占用"), default=False)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    cancel_reason = models.CharField(
        _("取消原因"), max_length=24, choices=CancelReason.choices, blank=True
    )
    attempt_count = models.PositiveSmallIntegerField(_("发送次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次发送时间"), null=True, blank=True)
    # A claim older than this is a worker that died mid-send: query, then send again.
    lease_until = models.DateTimeField(_("发送占用至"), null=True, blank=True)
    # The send may have reached the channel (timeout, crash): ask it before sending again.
    needs_query = models.BooleanField(_("需先查询结果"), default=False)
    # The day whose caps this entry counts against (given back if it is given up).
    counted_on = models.DateField(_("计入限额日"), null=True, blank=True)
    deferrals = models.PositiveSmallIntegerField(_("顺延次数"), default=0)
    last_error = models.CharField(_("最近错误"), max_length=255, blank=True)
    channel = models.CharField(_("支付渠道"), max_length=24, blank=True)
    channel_ref = models.CharField(_("渠道单号"), max_length=64, blank=True)
    openid = models.CharField(_("收款 openid"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    paid_at = models.DateTimeField(_("发放时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("发放记录")
        verbose_name_plural = _("发放记录")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(cancel_reason=""),
                name="payout_cancel_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="payout_paid_has_time",
            ),
        ]
        indexes = [
            # The due-entry job's scan: open entries by day / next attempt.
            models.Index(
                fields=["due_on", "id"],
                name="payout_due_scheduled",
                condition=Q(status="scheduled"),
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="payout_due_retry",
                condition=Q(status="failed"),
            ),
            models.Index(
                fields=["lease_until"], name="payout_sending", condition=Q(status="sending")
            ),
            models.Index(fields=["campaign", "status"]),
            models.Index(fields=["customer", "campaign"]),
        ]

    def __str__(self) -> str:
        return f"{self.bill_no} {self.amount_fen}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.SENDING, self.Status.FAILED)


class PayoutAttempt(models.Model):
    """One send (or query) of a payout to the channel, with its outcome."""

    class Outcome(models.TextChoices):
        STARTED = "started", _("发送中")
        PAID = "paid", _("已支付")
        FAILED = "failed", _("失败（可重试）")
        REJECTED = "rejected", _("失败（不可重试）")
        UNKNOWN = "unknown", _("结果未知（超时）")
        DEFERRED = "deferred", _("超出限额，顺延")

    payout = models.ForeignKey(
        Payout, verbose_name=_("发放记录"), on_delete=models.CASCADE, related_name="attempts"
    )
    number = models.PositiveSmallIntegerField(_("第几次"))
    kind = models.CharField(_("调用"), max_length=8, default="send")  # send | query
    outcome = models.CharField(
        _("结果"), max_length=16, choices=Outcome.choices, default=Outcome.STARTED
    )
    error_code = models.CharField(_("错误码"), max_length=32, blank=True)
    error_message = models.CharField(_("错误信息"), max_length=255, blank=True)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("发送记录")
        verbose_name_plural = _("发送记录")
        ordering = ["payout", "number", "pk"]
        indexes = [models.Index(fields=["payout", "number"])]

    def __str__(self) -> str:
        return f"{self.payout_id}#{self.number} {self.outcome}"


class PayoutDayCounter(models.Model):
    """Counted payouts of one day for one scope: ``customer:<id>``, ``campaign:<id>``, ``all``.

    Bumped by a guarded upsert (``count + 1 <= cap AND amount + x <= cap``) when an
    entry is sent; an entry that did not fit waits for the next day.
    """

    scope = models.CharField(_("范围"), max_length=48)
    day = models.DateField(_("日期"))
    count = models.PositiveIntegerField(_("笔数"), default=0)
    amount_fen = models.BigIntegerField(_("金额（分）"), default=0)

    class Meta:
        verbose_name = _("每日发放计数")
        verbose_name_plural = _("每日发放计数")
        constraints = [
            models.UniqueConstraint(fields=["scope", "day"], name="payout_day_counter_unique"),
            models.CheckConstraint(
                condition=Q(amount_fen__gte=0), name="payout_day_counter_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.day}: {self.count} / {self.amount_fen}"


class PayoutPolicy(models.Model):
    """How a campaign pays: its red packet (amount, delay, conditions) and its daily budget.

    One per campaign, optional: without one a campaign pays with no daily cap of its own.
    A red-packet campaign's policy says what each member joining its audience groups gets.
    """

    campaign = models.OneToOneField(
        "campaigns.Campaign",
        verbose_name=_("活动"),
        on_delete=models.CASCADE,
        related_name="payout_policy",
    )
    amount_fen = models.PositiveBigIntegerField(
        _("红包金额（分）"), default=0, help_text=_("红包活动每人金额，1–200 元")
    )
    delay_workdays = models.PositiveSmallIntegerField(
        _("延迟发放（工作日）"), default=0, help_text=_("入群后第 N 个工作日发放")
    )
    conditions = models.JSONField(
        _("发放条件"),
        default=list,
        blank=True,
        help_text=_("发放日检查：仍在群内、仍是好友、已认证"),
    )
    daily_budget_fen = models.PositiveBigIntegerField(
        _("每日预算（分）"), null=True, blank=True, help_text=_("不填为不限")
    )
    wishing = models.CharField(_("祝福语"), max_length=64, default="恭喜发财，大吉大利")
    act_name = models.CharField(_("活动名称（红包）"), max_length=32, blank=True)
    sender_name = models.CharField(_("发送者名称"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("发放规则")
        verbose_name_plural = _("发放规则")
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_budget_fen__isnull=True) | Q(daily_budget_fen__gt=0),
                name="payout_policy_daily_budget_positive",
            ),
        ]

    def __str__(self) -> str:
        return str(self.campaign_id)


__all__ = ["Payout", "PayoutAttempt", "PayoutDayCounter", "PayoutPolicy", "RedPacketCampaign"]


class RedPacketCampaign(Campaign):
    """Red-packet campaigns as the payout report lists them (a view of ``Campaign``)."""

    class Meta:
        proxy = True
        verbose_name = _("红包活动报表")
        verbose_name_plural = _("红包活动报表")
