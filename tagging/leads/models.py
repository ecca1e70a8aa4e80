"""Lead activation (D12): which dormant bank customer went to which manager, and what
a customer gets for adding their manager (named in the friend-request text)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.IntegerChoices):
    ACTIVE_CLAIMED = 1, _("近期活跃且领取过权益")
    BROWSING = 2, _("近期浏览")
    BROWSED = 3, _("浏览过但未领取")
    BIRTHDAY = 4, _("今日生日")


class LeadOffer(models.Model):
    """What a dormant customer gets for adding their manager (a live campaign's benefit,
    written by ops), for one branch or, with no branch, for all."""

    branch = models.ForeignKey(
        "contacts.Branch",
        verbose_name=_("网点"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("留空表示全部网点"),
    )
    text = models.CharField(
        _("客户权益"), max_length=20, help_text=_("写进好友申请验证语，如“新客专享10元立减金”")
    )
    valid_from = models.DateField(_("开始日期"), null=True, blank=True)
    valid_until = models.DateField(_("结束日期"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("激活权益")
        verbose_name_plural = _("激活权益")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text


class LeadAssignment(models.Model):
    """A dormant bank customer put on a manager's list for one day.

    ``(staff, day, slot)`` is unique and ``slot`` never exceeds the daily cap, so a
    manager never gets more than the cap however many runs overlap; ``(bank_record,
    week)`` is unique, so a customer is handed out at most once a week."""

    bank_record = models.ForeignKey(
        "contacts.BankRecord",
        verbose_name=_("行内客户"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    staff = models.ForeignKey(
        "contacts.Staff", verbose_name=_("客户经理"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("日期"))
    slot = models.PositiveSmallIntegerField(_("当日序号"))
    week = models.CharField(_("周"), max_length=8)
    tier = models.PositiveSmallIntegerField(_("优先级"), choices=Tier.choices)
    verify_text = models.CharField(_("好友申请验证语"), max_length=100)
    task = models.ForeignKey(
        "workspace.ManagerTask",
        verbose_name=_("任务"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("激活分配")
        verbose_name_plural = _("激活分配")
        ordering = ["-day", "staff", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["staff", "day", "slot"], name="uniq_lead_staff_slot"),
            models.UniqueConstraint(fields=["bank_record", "week"], name="uniq_lead_record_week"),
            models.CheckConstraint(condition=models.Q(slot__gte=1), name="lead_slot_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_record_id}→{self.staff_id}@{self.day}"


class LeadRank(models.Model):
    """The ranked outreach list as of its last computation (the daily run, or ops'
    refresh): what the ranking page pages through without recomputing it."""

    bank_record = models.OneToOneField(
        "contacts.BankRecord",
        verbose_name=_("行内客户"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    branch = models.ForeignKey(
        "contacts.Branch",
        verbose_name=_("网点"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    tier = models.PositiveSmallIntegerField(_("优先级"), choices=Tier.choices)
    last_at = models.DateTimeField(_("最近行为"), null=True, blank=True)
    position = models.PositiveIntegerField(_("排名"))
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("激活名单")
        verbose_name_plural = _("激活名单")
        ordering = ["position"]
        indexes = [
            models.Index(fields=["position"], name="leadrank_position"),
            models.Index(fields=["tier", "position"], name="leadrank_tier_position"),
            models.Index(fields=["branch", "position"], name="leadrank_branch_position"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.bank_record_id}"
