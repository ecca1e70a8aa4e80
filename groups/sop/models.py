"""SOP plans: a weekly content calendar for groups, delivered exactly once (D6).

A plan targets groups and holds slots (weekday + time, or every day at a meal
time, optionally only within a seasonal date range). When a slot falls due the
beat tick records one ``SopOccurrence`` under a unique (slot, time) key, and
expanding it creates one ``SopDelivery`` per (occurrence, group) under another
unique key: two ticks, two beats or a crashed worker never send twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SopPlan(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("运行中")
        PAUSED = "paused", _("已暂停")

    class HolidayPolicy(models.TextChoices):
        SEND = "send", _("照常发送")
        SKIP = "skip", _("节假日跳过")
        SHIFT = "shift", _("顺延到下一个工作日")

    name = models.CharField(_("名称"), max_length=64)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    holiday_policy = models.CharField(
        _("节假日规则"), max_length=16, choices=HolidayPolicy.choices, default=HolidayPolicy.SEND
    )
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    target_pools = models.ManyToManyField(
        "groups.GroupPool", verbose_name=_("目标群池"), blank=True, related_name="+"
    )
    target_regions = models.ManyToManyField(
        "groups.Region", verbose_name=_("目标地区"), blank=True, related_name="+"
    )
    target_owners = models.ManyToManyField(
        "contacts.Staff", verbose_name=_("目标群主"), blank=True, related_name="+"
    )
    target_groups = models.ManyToManyField(
        "groups.CustomerGroup", verbose_name=_("指定客户群"), blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    paused_at = models.DateTimeField(_("暂停时间"), null=True, blank=True)
    # Slots before this moment are never sent (a new or resumed plan starts from now).
    active_since = models.DateTimeField(_("生效起始时间"), default=timezone.now)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("SOP 计划")
        verbose_name_plural = _("SOP 计划")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class SopSlot(models.Model):
    """One recurring moment of a plan: a weekday and time, or every day at a time."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("周一")
        TUESDAY = 1, _("周二")
        WEDNESDAY = 2, _("周三")
        THURSDAY = 3, _("周四")
        FRIDAY = 4, _("周五")
        SATURDAY = 5, _("周六")
        SUNDAY = 6, _("周日")

    plan = models.ForeignKey(
        SopPlan, verbose_name=_("计划"), on_delete=models.CASCADE, related_name="slots"
    )
    weekday = models.PositiveSmallIntegerField(
        _("星期"),
        choices=Weekday.choices,
        null=True,
        blank=True,
        help_text=_("留空表示每天（如早午晚餐时段）"),
    )
    time = models.TimeField(_("发送时间"))
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_until = models.DateField(_("截止日期"), null=True, blank=True)
    content = models.ForeignKey(
        "content.Content", verbose_name=_("内容"), on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("说明"), max_length=64, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("SOP 时段")
        verbose_name_plural = _("SOP 时段")
        ordering = ["plan", "weekday", "time"]

    def __str__(self) -> str:
        day = self.get_weekday_display() if self.weekday is not None else _("每天")
        return f"{day} {self.time:%H:%M}"


class SopOccurrence(models.Model):
    """A slot falling due at one moment; the unit a whole send can be cancelled at."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待展开")
        EXPANDING = "expanding", _("展开中")
        EXPANDED = "expanded", _("已展开")
        SKIPPED = "skipped", _("已跳过")
        CANCELLED = "cancelled", _("已取消")

    plan = models.ForeignKey(
        SopPlan, verbose_name=_("计划"), on_delete=models.CASCADE, related_name="occurrences"
    )
    slot = models.ForeignKey(
        SopSlot, verbose_name=_("时段"), on_delete=models.CASCADE, related_name="occurrences"
    )
    # The slot's nominal time: the idempotency key with the slot.
    nominal_at = models.DateTimeField(_("计划时间"))
    # When it actually goes out (later than nominal when shifted past a holiday).
    send_at = models.DateTimeField(_("发送时间"), db_index=True)
    content_version = models.ForeignKey(
        "content.ContentVersion",
        verbose_name=_("内容版本"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reason = models.CharField(_("原因"), max_length=255, blank=True)
    group_count = models.PositiveIntegerField(_("群数"), default=0)
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("SOP 发送批次")
        verbose_name_plural = _("SOP 发送批次")
        ordering = ["-send_at"]
        constraints = [
            models.UniqueConstraint(fields=["slot", "nominal_at"], name="uniq_occurrence_slot_time")
        ]

    def __str__(self) -> str:
        return f"{self.plan} @ {self.send_at:%Y-%m-%d %H:%M}"


class SopPush(models.Model):
    """One WeCom mass message (``add_msg_template``) for one owner's groups in one send.

    WeCom only sends after the owner confirms in the client, so the push waits
    for confirmation; results are fetched afterwards. Unique per (occurrence,
    owner, chunk), and claimed before the call, so a crash never sends twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待推送")
        CALLING = "calling", _("推送中")
        AWAITING_CONFIRM = "awaiting_confirm", _("待群主确认")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")

    occurrence = models.ForeignKey(
        SopOccurrence, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="pushes"
    )
    owner_userid = models.CharField(_("群主账号"), max_length=64, db_index=True)
    chunk = models.PositiveIntegerField(_("分片"), default=0)
    chat_ids = models.JSONField(_("客户群"), default=list)
    variables = models.JSONField(_("变量"), default=dict, blank=True)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    msgid = models.CharField(_("群发消息ID"), max_length=64, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    called_at = models.DateTimeField(_("调用时间"), null=True, blank=True)
    results_synced_at = models.DateTimeField(_("结果同步时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("SOP 群发")
        verbose_name_plural = _("SOP 群发")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["occurrence", "owner_userid", "chunk"], name="uniq_push_owner_chunk"
            )
        ]

    def __str__(self) -> str:
        return f"{self.owner_userid} #{self.chunk} ({self.get_status_display()})"


class SopDelivery(models.Model):
    """One group's copy of one occurrence. Unique per (occurrence, group)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待推送")
        PUSHING = "pushing", _("推送中")
        AWAITING_CONFIRM = "awaiting_confirm", _("待群主确认")
        SENT = "sent", _("已发送")
        SKIPPED = "skipped", _("已跳过")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")

    occurrence = models.ForeignKey(
        SopOccurrence, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="deliveries"
    )
    group = models.ForeignKey(
        "groups.CustomerGroup",
        verbose_name=_("客户群"),
        on_delete=models.CASCADE,
        related_name="sop_deliveries",
    )
    owner_userid = models.CharField(_("群主账号"), max_length=64, db_index=True)
    push = models.ForeignKey(
        SopPush,
        verbose_name=_("群发"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reason = models.CharField(_("原因"), max_length=255, blank=True)
    msgid = models.CharField(_("群发消息ID"), max_length=64, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    send_month = models.DateField(_("发送月份"), db_index=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("SOP 推送")
        verbose_name_plural = _("SOP 推送")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["occurrence", "group"], name="uniq_delivery_group")
        ]
        indexes = [models.Index(fields=["group", "send_month", "status"])]

    def __str__(self) -> str:
        return f"{self.occurrence_id}:{self.group_id}"
