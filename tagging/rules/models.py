"""Tag rules (D9): declarative conditions over behaviour events, versioned.

*When* events of a type (whose properties contain the rule's filter) happen at least
N times within W days, *then* the customer gets a tag (source "rule") and/or every
such event adds points to an interest. A rule may also take its tag off again when
no matching event came for D days. Every save is a new version with who and when;
each firing names the version it was made by.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TagRule(models.Model):
    name = models.CharField(_("名称"), max_length=64, unique=True)
    description = models.CharField(_("说明"), max_length=255, blank=True)
    enabled = models.BooleanField(_("启用"), default=False)
    event_type = models.CharField(
        _("事件类型"), max_length=48, help_text=_("如 material_opened、coupon_claimed")
    )
    property_filter = models.JSONField(
        _("属性条件"),
        default=dict,
        blank=True,
        help_text=_('事件属性需包含这些键值，如 {"category": "基金"}；留空为不限'),
    )
    min_count = models.PositiveIntegerField(_("至少次数"), default=1)
    window_days = models.PositiveIntegerField(_("时间窗口（天）"), default=7)
    tag = models.ForeignKey(
        "tagging.Tag",
        verbose_name=_("打标签"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    interest = models.ForeignKey(
        "intent.Interest",
        verbose_name=_("意向类别"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    points = models.FloatField(_("每次加分"), default=0.0)
    stale_days = models.PositiveIntegerField(
        _("过期天数"),
        null=True,
        blank=True,
        help_text=_("连续多少天没有符合条件的事件后移除此标签；留空为不移除"),
    )
    version = models.PositiveIntegerField(_("版本"), default=0)
    backfill_cursor = models.BigIntegerField(_("回溯进度（事件ID）"), null=True, blank=True)
    backfill_until = models.BigIntegerField(_("回溯截止（事件ID）"), null=True, blank=True)
    backfill_done_at = models.DateTimeField(_("回溯完成时间"), null=True, blank=True)
    backfill_moved_at = models.DateTimeField(_("回溯最近推进"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("修改人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("标签规则")
        verbose_name_plural = _("标签规则")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(min_count__gte=1), name="tagrule_min_count"),
            models.CheckConstraint(
                condition=models.Q(window_days__gte=1), name="tagrule_window_days"
            ),
        ]
        indexes = [
            models.Index(
                fields=["event_type"], name="tagrule_type_enabled", condition=models.Q(enabled=True)
            )
        ]

    def __str__(self) -> str:
        return self.name

    def snapshot(self) -> dict:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "event_type": self.event_type,
            "property_filter": self.property_filter,
            "min_count": self.min_count,
            "window_days": self.window_days,
            "tag": self.tag_id,
            "tag_name": str(self.tag) if self.tag_id else "",
            "interest": self.interest.code if self.interest_id else "",
            "points": self.points,
            "stale_days": self.stale_days,
        }


class TagRuleVersion(models.Model):
    """What a rule said after one save, who saved it, and when."""

    rule = models.ForeignKey(
        TagRule, verbose_name=_("规则"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("版本"))
    snapshot = models.JSONField(_("内容"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("修改人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("修改时间"), default=timezone.now)
    changes = models.JSONField(_("变更字段"), default=list, blank=True)

    class Meta:
        verbose_name = _("规则版本")
        verbose_name_plural = _("规则版本")
        ordering = ["rule", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="uniq_tagrule_version")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.number}"


class RuleFiring(models.Model):
    """A rule tagged a customer: the explanation shown on the customer page (which
    rule and version, which events, when). One per rule and customer while the tag
    stands; the stale removal deletes it with the tag, so a later firing is new."""

    id = models.BigAutoField(primary_key=True)
    # (rule, customer) and (customer, tag) serve the lookups: no single-column indexes of
    # rule and customer. The customer has no database constraint: customers are erased
    # in place, never deleted (an ORM delete still cascades), and its trigger took a
    # key-share lock on the customer's row for each firing.
    rule = models.ForeignKey(
        TagRule,
        verbose_name=_("规则"),
        on_delete=models.CASCADE,
        related_name="firings",
        db_index=False,
    )
    version = models.PositiveIntegerField(_("规则版本"))
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    tag = models.ForeignKey(
        "tagging.Tag", verbose_name=_("标签"), on_delete=models.CASCADE, related_name="+"
    )
    event_ids = ArrayField(models.BigIntegerField(), verbose_name=_("触发事件"))
    fired_at = models.DateTimeField(_("触发时间"), default=timezone.now)

    class Meta:
        verbose_name = _("规则触发记录")
        verbose_name_plural = _("规则触发记录")
        constraints = [models.UniqueConstraint(fields=["rule", "customer"], name="uniq_rulefiring")]
        indexes = [models.Index(fields=["customer", "tag"], name="rulefiring_customer")]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.customer_id}"
