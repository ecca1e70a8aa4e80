"""Surveys (questionnaires, D9): built by ops, answered by customers on a signed H5 page.

Each answer option may add corp tags and intent points; a response is recorded
once per customer and period (``unique (survey, customer, period_key)``), so a
double submit records once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Survey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        LIVE = "live", _("进行中")
        CLOSED = "closed", _("已结束")

    class Repeat(models.TextChoices):
        ONCE = "once", _("仅一次")
        WEEK = "week", _("每周一次")
        MONTH = "month", _("每月一次")
        QUARTER = "quarter", _("每季度一次")
        YEAR = "year", _("每年一次")

    title = models.CharField(_("标题"), max_length=100)
    intro = models.TextField(_("说明"), blank=True, help_text=_("显示在问卷页顶部"))
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    repeat = models.CharField(
        _("作答频次"),
        max_length=16,
        choices=Repeat.choices,
        default=Repeat.ONCE,
        help_text=_("同一客户在一个周期内只记录一次（按北京时间的自然周/月/季/年）"),
    )
    thanks_text = models.CharField(
        _("提交后提示"), max_length=200, blank=True, default="感谢您的参与！"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("问卷")
        verbose_name_plural = _("问卷")
        ordering = ["-created_at"]
        permissions = [
            ("export_responses", _("导出问卷答卷")),
            ("make_survey_links", _("生成客户问卷链接")),
        ]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("单选")
        MULTIPLE = "multiple", _("多选")
        RATING = "rating", _("评分（1-5）")
        TEXT = "text", _("简答")

    survey = models.ForeignKey(
        Survey, verbose_name=_("问卷"), on_delete=models.CASCADE, related_name="questions"
    )
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    kind = models.CharField(_("题型"), max_length=16, choices=Kind.choices, default=Kind.SINGLE)
    title = models.CharField(_("题目"), max_length=200)
    required = models.BooleanField(_("必答"), default=True)

    class Meta:
        verbose_name = _("题目")
        verbose_name_plural = _("题目")
        ordering = ["survey", "order", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def has_options(self) -> bool:
        return self.kind in (self.Kind.SINGLE, self.Kind.MULTIPLE)


class Option(models.Model):
    question = models.ForeignKey(
        Question, verbose_name=_("题目"), on_delete=models.CASCADE, related_name="options"
    )
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)
    label = models.CharField(_("选项"), max_length=100)
    tags = models.ManyToManyField(
        "tagging.Tag",
        verbose_name=_("选中后打标签"),
        blank=True,
        related_name="+",
    )
    interest = models.CharField(
        _("兴趣"),
        max_length=32,
        blank=True,
        help_text=_("选中后为该兴趣加分，如 funds、insurance、loans、movies、food"),
    )
    points = models.PositiveSmallIntegerField(_("加分"), default=0)

    class Meta:
        verbose_name = _("选项")
        verbose_name_plural = _("选项")
        ordering = ["question", "order", "id"]

    def __str__(self) -> str:
        return self.label


class Response(models.Model):
    """One customer's submission of a survey in one period."""

    survey = models.ForeignKey(
        Survey, verbose_name=_("问卷"), on_delete=models.CASCADE, related_name="responses"
    )
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    period_key = models.CharField(_("周期"), max_length=16, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), db_index=True)

    class Meta:
        verbose_name = _("答卷")
        verbose_name_plural = _("答卷")
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "customer", "period_key"], name="uniq_survey_response_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}:{self.customer_id}:{self.period_key}"


class Answer(models.Model):
    """One answer of a response: a chosen option (one row per option of a multiple
    choice), a rating or a short text."""

    response = models.ForeignKey(
        Response, verbose_name=_("答卷"), on_delete=models.CASCADE, related_name="answers"
    )
    # An answered question or option cannot be deleted on its own (its answers would go
    # with it and the results would change); deleting the whole survey deletes them all.
    question = models.ForeignKey(
        Question, verbose_name=_("题目"), on_delete=models.RESTRICT, related_name="answers"
    )
    option = models.ForeignKey(
        Option,
        verbose_name=_("选项"),
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="answers",
    )
    rating = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)
    text = models.CharField(_("简答"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("回答")
        verbose_name_plural = _("回答")
        constraints = [
            models.UniqueConstraint(
                fields=["response", "option"],
                name="uniq_answer_option",
                condition=models.Q(option__isnull=False),
            )
        ]
        indexes = [models.Index(fields=["question", "option"])]

    def __str__(self) -> str:
        return f"{self.response_id}:{self.question_id}"
