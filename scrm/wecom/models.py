"""WeCom records: every outbound API call, and the inbox of callback events."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiCall(models.Model):
    """One outbound WeCom API call (no personal data: the endpoint, never the query)."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    endpoint = models.CharField(_("接口"), max_length=128, db_index=True)
    method = models.CharField(_("方法"), max_length=8)
    http_status = models.PositiveSmallIntegerField(_("HTTP 状态"), null=True, blank=True)
    errcode = models.IntegerField(_("错误码"), null=True, blank=True, db_index=True)
    errmsg = models.CharField(_("错误信息"), max_length=255, blank=True)
    latency_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)
    attempt = models.PositiveSmallIntegerField(_("第几次尝试"), default=1)
    triggered_by = models.CharField(_("触发来源"), max_length=128, blank=True)
    request_id = models.CharField(_("请求号"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("企业微信接口调用")
        verbose_name_plural = _("企业微信接口调用")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.errcode}"


class InboxEvent(models.Model):
    """A callback event exactly as WeCom sent it, stored before anything else happens."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待处理")
        PROCESSING = "processing", _("处理中")
        DONE = "done", _("已处理")
        IGNORED = "ignored", _("已忽略")
        DEAD = "dead", _("失败")

    # WeCom retries up to 3 times: the key makes every retry collapse into one row.
    dedupe_key = models.CharField(_("去重键"), max_length=191, unique=True)
    event = models.CharField(_("事件"), max_length=64, blank=True)
    change_type = models.CharField(_("变更类型"), max_length=64, blank=True)
    payload = models.JSONField(_("事件内容"), default=dict)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    # "timestamp:nonce" of the request that delivered it: the same request sent
    # again is a replay (refused), a WeCom retry comes with a fresh nonce.
    request_nonce = models.CharField(_("请求随机串"), max_length=100, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    lease_until = models.DateTimeField(_("租约到期"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    processed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)

    class Meta:
        verbose_name = _("回调事件")
        verbose_name_plural = _("回调事件")
        ordering = ["-id"]
        indexes = [
            # Workers take the oldest waiting row: an index of waiting rows only,
            # in arrival order, so a claim never reads past rows already
            # processed (a burst leaves thousands of them at the low ids).
            models.Index(
                fields=["id"],
                name="wecom_inbox_pending_idx",
                condition=models.Q(status="pending"),
            ),
            # The sweeper finds leases that ran out among the few rows in hand.
            models.Index(
                fields=["lease_until"],
                name="wecom_inbox_leased_idx",
                condition=models.Q(status="processing"),
            ),
            # Ops list the dead rows (to replay them) among millions processed.
            models.Index(
                fields=["id"],
                name="wecom_inbox_dead_idx",
                condition=models.Q(status="dead"),
            ),
            models.Index(fields=["event", "change_type"], name="wecom_inbox_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event}/{self.change_type} {self.status}"


class ReconcileHold(models.Model):
    """A reconcile that stopped before ending most of what WeCom seems to have lost.

    Ending a large share of a corp's relations, groups or staff in one run is
    almost always a misconfiguration (a wrong secret, an app without the
    customer-contact permission, WeCom answering empty lists), not reality. The
    run changes nothing, records this row and alerts ops (admin, ``/healthz``);
    it proceeds only when ops confirm.
    """

    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    reason = models.TextField(_("原因"))
    # kind → {"remove": n, "active": n}
    counts = models.JSONField(_("拟移除数量"), default=dict)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    resolution = models.CharField(_("处理方式"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("同步暂停")
        verbose_name_plural = _("同步暂停")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="wecom_hold_open_idx",
                condition=models.Q(resolved_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.reason[:40]}"
