"""The compliance-approved content library (D6, D10).

Ops write ``Content`` (the working copy). Each submission freezes an immutable
``ContentVersion``; a compliance reviewer decides on that version and the
decision is kept as a ``ContentReview``. Only an approved version is ever sent.

While an edited version waits for review, the previously approved version stays
sendable (``Content.approved_version``): scheduled SOP content must not vanish
because somebody fixed a typo. The new version replaces it only once approved.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BannedPhrase(models.Model):
    """A phrase financial marketing must not use (保本, 稳赚, …); compliance keeps the list."""

    phrase = models.CharField(_("禁用词"), max_length=64, unique=True)
    exceptions = models.TextField(
        _("允许的说法"),
        blank=True,
        help_text=_("每行一个包含该词但允许使用的说法，例如「非保本」"),
    )
    reason = models.CharField(_("说明"), max_length=200, blank=True)
    is_active = models.BooleanField(_("启用"), default=True, db_index=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("禁用词")
        verbose_name_plural = _("禁用词")
        ordering = ["phrase"]

    def __str__(self) -> str:
        return self.phrase

    def exception_list(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.exceptions.splitlines() if line.strip())


class Content(models.Model):
    """One message in the library: text with variables plus WeCom attachments."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已通过")
        REJECTED = "rejected", _("已驳回")

    title = models.CharField(_("名称"), max_length=100, help_text=_("仅内部使用，不发送给客户"))
    text = models.TextField(
        _("正文"),
        blank=True,
        help_text=_("不超过 4000 字节；可用变量：{客户名称}、{群名称}、{客户经理}"),
    )
    attachments = models.JSONField(
        _("附件"),
        default=list,
        blank=True,
        help_text=_("企业微信附件列表（最多 9 个）：image、link、miniprogram、video、file"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    pending_version = models.ForeignKey(
        "ContentVersion",
        verbose_name=_("待审核版本"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_version = models.ForeignKey(
        "ContentVersion",
        verbose_name=_("可发送版本"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("最后修改人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("内容")
        verbose_name_plural = _("内容库")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["status", "-updated_at"])]

    def __str__(self) -> str:
        return self.title


class ContentReviewQueue(Content):
    """The compliance reviewers' view of the library: what waits for them."""

    class Meta:
        proxy = True
        verbose_name = _("待审核内容")
        verbose_name_plural = _("待审核内容")


class ContentVersion(models.Model):
    """What exactly was submitted, frozen. Rows are never changed or deleted."""

    content = models.ForeignKey(
        Content, verbose_name=_("内容"), on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField(_("版本号"))
    title = models.CharField(_("名称"), max_length=100)
    text = models.TextField(_("正文"), blank=True)
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    variables = models.JSONField(_("使用的变量"), default=list, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("最后修改人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("提交时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("内容版本")
        verbose_name_plural = _("内容版本")
        ordering = ["content", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["content", "number"], name="content_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"


class ContentReview(models.Model):
    """One compliance decision on one submitted version (at most one per version)."""

    class Decision(models.TextChoices):
        APPROVED = "approved", _("通过")
        REJECTED = "rejected", _("驳回")

    version = models.OneToOneField(
        ContentVersion, verbose_name=_("版本"), on_delete=models.PROTECT, related_name="review"
    )
    content = models.ForeignKey(
        Content, verbose_name=_("内容"), on_delete=models.PROTECT, related_name="reviews"
    )
    decision = models.CharField(_("结论"), max_length=16, choices=Decision.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    comment = models.TextField(_("审核意见"), blank=True)
    decided_at = models.DateTimeField(_("审核时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("审核记录")
        verbose_name_plural = _("审核记录")
        ordering = ["-decided_at"]

    def __str__(self) -> str:
        return f"{self.version} {self.get_decision_display()}"
