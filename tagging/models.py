"""Corp tags mirrored with WeCom, and the tags each customer carries (D9)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TagGroup(models.Model):
    """A WeCom corp tag group (企业标签组)."""

    wecom_id = models.CharField(_("企业微信ID"), max_length=64, unique=True, null=True, blank=True)
    name = models.CharField(_("名称"), max_length=30, unique=True)
    order = models.PositiveIntegerField(_("排序"), default=0)
    is_deleted = models.BooleanField(_("已删除"), default=False)
    synced_at = models.DateTimeField(_("同步时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("标签组")
        verbose_name_plural = _("标签组")
        ordering = ["-order", "name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A WeCom corp tag (企业标签)."""

    group = models.ForeignKey(
        TagGroup, verbose_name=_("标签组"), on_delete=models.CASCADE, related_name="tags"
    )
    wecom_id = models.CharField(_("企业微信ID"), max_length=64, unique=True, null=True, blank=True)
    name = models.CharField(_("名称"), max_length=30)
    order = models.PositiveIntegerField(_("排序"), default=0)
    is_deleted = models.BooleanField(_("已删除"), default=False)
    synced_at = models.DateTimeField(_("同步时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["group", "-order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="uniq_tag_name_in_group")
        ]

    def __str__(self) -> str:
        return f"{self.group.name}/{self.name}"


class CustomerTag(models.Model):
    """A tag on a customer, with where it came from and whether WeCom has it."""

    class Source(models.TextChoices):
        CHANNEL = "channel", _("渠道")
        MANUAL = "manual", _("手动")
        IMPORT = "import", _("导入")
        RULE = "rule", _("规则")
        SURVEY = "survey", _("问卷")
        CAMPAIGN = "campaign", _("活动")
        WECOM = "wecom", _("企业微信")

    customer = models.ForeignKey(
        "contacts.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="tags"
    )
    tag = models.ForeignKey(
        Tag, verbose_name=_("标签"), on_delete=models.CASCADE, related_name="customer_tags"
    )
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    staff = models.ForeignKey(
        "contacts.Staff",
        verbose_name=_("打标员工"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    added_at = models.DateTimeField(_("打标时间"), auto_now_add=True)
    synced_at = models.DateTimeField(_("已同步企业微信"), null=True, blank=True)

    class Meta:
        verbose_name = _("客户标签")
        verbose_name_plural = _("客户标签")
        constraints = [
            models.UniqueConstraint(fields=["customer", "tag"], name="uniq_customer_tag")
        ]
        indexes = [models.Index(fields=["tag", "customer"])]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"
