"""Intent scores (D9): points per customer and interest that halve every half-life.

A score is stored as ``(points, as_of)``: its value at any time ``t`` is
``points * 0.5 ** ((t - as_of) / half_life)``, so reading it never scans history.
Every contribution is kept once (its ``source_key`` is unique): that row is both the
idempotency record and the explanation shown on the customer page.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    HIGH = "high", _("高意向")
    MEDIUM = "medium", _("中意向")
    LOW = "low", _("低意向")


# The tag of each level in the 意向 group: "<interest>-<label>".
LEVEL_TAG_SUFFIX = {Level.HIGH: "高意向", Level.MEDIUM: "中意向", Level.LOW: "低意向"}
LEVEL_GROUP = "意向"


class Interest(models.Model):
    """Something a customer can be interested in (funds, insurance, movies …)."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=20, unique=True)
    half_life_days = models.FloatField(
        _("半衰期（天）"), default=14.0, help_text=_("分值每经过一个半衰期减半")
    )
    high_threshold = models.FloatField(_("高意向阈值"), default=60.0)
    medium_threshold = models.FloatField(_("中意向阈值"), default=30.0)
    low_threshold = models.FloatField(_("低意向阈值"), default=10.0)
    suggestion = models.ForeignKey(
        "content.Content",
        verbose_name=_("高意向建议内容"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("达到高意向时，客户经理跟进任务附带的内容"),
    )
    order = models.PositiveIntegerField(_("排序"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("意向类别")
        verbose_name_plural = _("意向类别")
        ordering = ["order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(half_life_days__gt=0), name="interest_half_life_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(high_threshold__gt=models.F("medium_threshold"))
                & models.Q(medium_threshold__gt=models.F("low_threshold"))
                & models.Q(low_threshold__gt=0),
                name="interest_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def level_of(self, value: float) -> str:
        if value >= self.high_threshold:
            return Level.HIGH
        if value >= self.medium_threshold:
            return Level.MEDIUM
        if value >= self.low_threshold:
            return Level.LOW
        return ""

    def threshold_of(self, level: str) -> float | None:
        return {
            Level.HIGH: self.high_threshold,
            Level.MEDIUM: self.medium_threshold,
            Level.LOW: self.low_threshold,
        }.get(level)

    def level_tag_name(self, level: str) -> str:
        return f"{self.name}-{LEVEL_TAG_SUFFIX[level]}"[:30]


def decayed(points: float, since: datetime, at: datetime, half_life_days: float) -> float:
    """``points`` valued at ``since``, decayed (or, before ``since``, grown) to ``at``."""
    age_days = (at - since).total_seconds() / 86400.0
    return points * 0.5 ** (age_days / half_life_days)


class Score(models.Model):
    """A customer's points for one interest as of ``as_of``; see the module docstring."""

    # Keys without a database constraint (see Contribution); the customer's own index
    # is the unique (customer, interest) one.
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    interest = models.ForeignKey(
        Interest,
        verbose_name=_("意向类别"),
        on_delete=models.CASCADE,
        related_name="scores",
        db_constraint=False,
    )
    points = models.FloatField(_("分值（截至计分时间）"), default=0.0)
    as_of = models.DateTimeField(_("计分时间"))
    level = models.CharField(_("意向等级"), max_length=8, choices=Level.choices, blank=True)
    # When decay takes the current level below its threshold: the level job reads only
    # rows that are due, never every score.
    level_expires_at = models.DateTimeField(_("等级到期"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("意向分")
        verbose_name_plural = _("意向分")
        constraints = [
            models.UniqueConstraint(fields=["customer", "interest"], name="uniq_score_customer")
        ]
        indexes = [
            models.Index(
                fields=["level_expires_at"],
                name="score_level_due",
                condition=models.Q(level_expires_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.interest_id}"

    def value(self, at: datetime | None = None) -> float:
        return decayed(self.points, self.as_of, at or timezone.now(), self.interest.half_life_days)

    def level_expiry(self) -> datetime | None:
        """When the current level's threshold will be crossed downwards by decay."""
        threshold = self.interest.threshold_of(self.level)
        if not threshold or self.points <= 0:
            return None
        days = self.interest.half_life_days * math.log2(self.points / threshold)
        return self.as_of + timezone.timedelta(days=max(days, 0.0))


class Contribution(models.Model):
    """Points added to a score once: by a rule on events, or by a survey answer.

    ``source_key`` (``rule:<rule>:<event>``, ``survey:<response>:<option>`` …) makes a
    second application a no-op; ``reason`` says why (rule, version, names).
    """

    id = models.BigAutoField(primary_key=True)
    # Unique through a constraint of its own rather than ``unique=True``, which would
    # add a second (pattern) index that no query uses.
    source_key = models.CharField(_("来源键"), max_length=160)
    # No foreign-key constraints and no single-column indexes: rule evaluation writes
    # thousands of contributions per batch, and each constraint's trigger took a
    # key-share lock on the customer's row and on one of a handful of interest rows
    # (shared by every worker at once) for each of them. The customer and interest
    # come from rows read in the same transaction, customers are erased in place and
    # never deleted, interests cannot be deleted (the admin refuses), and a delete
    # through the ORM still cascades; (customer, interest, at) serves the lookups.
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    interest = models.ForeignKey(
        Interest,
        verbose_name=_("意向类别"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    points = models.FloatField(_("分值"))
    at = models.DateTimeField(_("发生时间"))
    event_ids = ArrayField(models.BigIntegerField(), verbose_name=_("事件"), default=list)
    reason = models.JSONField(_("原因"), default=dict, blank=True)
    created_at = models.DateTimeField(_("记录时间"), default=timezone.now)

    class Meta:
        verbose_name = _("意向分来源")
        verbose_name_plural = _("意向分来源")
        constraints = [
            models.UniqueConstraint(fields=["source_key"], name="uniq_contribution_source")
        ]
        indexes = [models.Index(fields=["customer", "interest", "at"], name="contrib_customer_at")]

    def __str__(self) -> str:
        return self.source_key
