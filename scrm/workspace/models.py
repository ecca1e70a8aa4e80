"""The manager's daily task list (D10-D12): tasks and the rules that create them.

Any app may put a task on a manager's list (``services.task_ensure``). The rows a
task is about (the manager, a customer, a group, an SOP push, a suggested content)
are referred to by lazy foreign keys: this app never imports the apps above it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ManagerTask(models.Model):
    """One item on a customer manager's daily task list (D10, D11, D12).

    Created by rules (new friend, birthday, maturity, dormant group, lead
    activation) or by an SOP push waiting for the owner's confirmation; each
    is unique by ``dedupe_key`` so a rule that runs twice creates nothing new.
    """

    class Kind(models.TextChoices):
        GROUP_MESSAGE = "group_message", _("群发待确认")
        NEW_FRIEND = "new_friend", _("新好友跟进")
        WELCOME_FAILED = "welcome_failed", _("欢迎语未送达")
        BIRTHDAY = "birthday", _("生日关怀")
        MATURITY = "maturity", _("理财到期提醒")
        GROUP_RESCUE = "group_rescue", _("沉默群激活")
        GROUP_MEMBER_CHECK = "group_member_check", _("入群核对")
        GROUP_NOTICE = "group_notice", _("群公告发布")
        LEAD_ACTIVATION = "lead_activation", _("存量客户激活")
        NO_CONTACT = "no_contact", _("久未联系")
        HIGH_INTENT = "high_intent", _("高意向跟进")

    class Status(models.TextChoices):
        OPEN = "open", _("待办")
        DONE = "done", _("已完成")
        SKIPPED = "skipped", _("已跳过")

    staff = models.ForeignKey(
        "contacts.Staff", verbose_name=_("负责人"), on_delete=models.CASCADE, related_name="tasks"
    )
    kind = models.CharField(_("类型"), max_length=24, choices=Kind.choices, db_index=True)
    title = models.CharField(_("标题"), max_length=128)
    detail = models.CharField(_("说明"), max_length=255, blank=True)
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="manager_tasks",
    )
    group = models.ForeignKey(
        "groups.CustomerGroup",
        verbose_name=_("客户群"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="manager_tasks",
    )
    push = models.ForeignKey(
        "sop.SopPush",
        verbose_name=_("群发"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
    )
    suggestion = models.ForeignKey(
        "content.Content",
        verbose_name=_("建议内容"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    priority = models.IntegerField(_("优先级"), default=0)
    due_date = models.DateField(_("截止日期"), db_index=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    skip_reason = models.CharField(_("跳过原因"), max_length=255, blank=True)
    acted_at = models.DateTimeField(_("执行时间"), null=True, blank=True)
    action_msgid = models.CharField(_("消息ID"), max_length=64, blank=True)
    closed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    dedupe_key = models.CharField(max_length=191, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("客户经理任务")
        verbose_name_plural = _("客户经理任务")
        ordering = ["due_date", "-priority", "id"]
        indexes = [models.Index(fields=["staff", "status", "due_date"])]

    def __str__(self) -> str:
        return self.title


class TaskRule(models.Model):
    """A trigger that creates manager tasks (D11), switched on and tuned by ops."""

    class Kind(models.TextChoices):
        NEW_FRIEND = "new_friend", _("新好友跟进")
        BIRTHDAY = "birthday", _("生日关怀")
        MATURITY = "maturity", _("理财到期提醒")

    kind = models.CharField(_("触发条件"), max_length=24, choices=Kind.choices, unique=True)
    is_active = models.BooleanField(_("启用"), default=True)
    days = models.PositiveSmallIntegerField(
        _("天数"),
        default=1,
        help_text=_(
            "新好友：添加后多少天内生成跟进任务；理财到期：到期前多少天提醒；生日：提前多少天提醒（0 为当天）"
        ),
    )
    suggestion = models.ForeignKey(
        "content.Content",
        verbose_name=_("建议话术"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("须为已审核通过的内容"),
    )

    class Meta:
        verbose_name = _("任务规则")
        verbose_name_plural = _("任务规则")

    def __str__(self) -> str:
        return self.get_kind_display()
