"""Cross-cutting records: the audit trail of sensitive access."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Who saw or exported what, when and from where (D14). Append-only."""

    class Action(models.TextChoices):
        VIEW_SENSITIVE = "view_sensitive", _("查看敏感信息")
        REVEAL = "reveal", _("显示明文")
        EXPORT = "export", _("导出")
        IMPORT = "import", _("导入")
        ERASE = "erase", _("删除个人信息")
        LOGIN = "login", _("登录")
        CHANGE = "change", _("修改")

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("操作人名称"), max_length=150, blank=True)
    action = models.CharField(_("动作"), max_length=32, choices=Action.choices)
    target_type = models.CharField(_("对象类型"), max_length=64, blank=True)
    target_id = models.CharField(_("对象"), max_length=128, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    request_id = models.CharField(_("请求号"), max_length=64, blank=True)
    details = models.JSONField(_("详情"), default=dict, blank=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at"]
        indexes = [models.Index(fields=["target_type", "target_id", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_type}"
