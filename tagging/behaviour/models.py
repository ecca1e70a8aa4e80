"""Behaviour events (D9): what a customer did, from where, recorded once."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.Model):
    """A kind of event the system accepts. The built-in ones are our own actions; the
    bank's systems may only send types ops registered here."""

    code = models.SlugField(_("代码"), max_length=48, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    description = models.CharField(_("说明"), max_length=255, blank=True)
    builtin = models.BooleanField(_("系统内置"), default=False)
    accept_from_api = models.BooleanField(
        _("允许行内系统上报"), default=True, help_text=_("关闭后，事件接口拒收此类型")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("事件类型")
        verbose_name_plural = _("事件类型")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class Event(models.Model):
    """One thing a customer did. ``(source, event_id)`` is unique, so a repeat (a
    retried batch, a replayed callback, a second open of the same tracked link
    within its dedupe window) is ignored."""

    class Source(models.TextChoices):
        API = "api", _("行内系统")
        MATERIAL = "material", _("素材追踪")
        ACTION = "action", _("系统动作")
        SURVEY = "survey", _("问卷")
        WECOM = "wecom", _("企业微信回调")

    id = models.BigAutoField(primary_key=True)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    event_id = models.CharField(_("事件ID"), max_length=64)
    # A WeCom customer, or a bank customer who is no one's WeCom friend yet (the bank's
    # systems report by customer number; lead activation ranks those, D12). A customer
    # matched to a bank record carries both.
    #
    # No foreign-key constraint in the database and no index of their own: every source
    # names the customer by a row it read in the same transaction (the API resolves
    # the batch's customers with one query), customers and bank records are never
    # deleted but erased in place, and a delete through the ORM still cascades here.
    # The constraint's trigger took a key-share lock on the customer's row for every
    # event inserted (dirtying the customer's page) and the two single-column indexes
    # were one write each per event that the (customer|bank_record, type, occurred_at)
    # indexes below already serve.
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    bank_record = models.ForeignKey(
        "contacts.BankRecord",
        verbose_name=_("行内客户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    type = models.CharField(_("类型"), max_length=48)
    properties = models.JSONField(_("属性"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)

    class Meta:
        verbose_name = _("行为事件")
        verbose_name_plural = _("行为事件")
        permissions = [("send_events", _("通过接口上报客户行为事件"))]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="uniq_event_source_id"),
            models.CheckConstraint(
                condition=models.Q(customer__isnull=False) | models.Q(bank_record__isnull=False),
                name="event_has_someone",
            ),
        ]
        indexes = [
            # Rules count a customer's events of a type in a window: one index range.
            models.Index(fields=["customer", "type", "occurred_at"], name="event_customer_type_at"),
            models.Index(
                fields=["bank_record", "type", "occurred_at"],
                name="event_bankrecord_type_at",
                condition=models.Q(bank_record__isnull=False),
            ),
            # Back-fills and the retention purge walk time ranges of a huge table.
            BrinIndex(fields=["occurred_at"], name="event_occurred_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.type}@{self.occurred_at:%Y-%m-%d %H:%M}"


class EventBatch(models.Model):
    """Events recorded together and not yet evaluated by the rules above. Made in the
    transaction that inserts the events, so a lost broker message or a dead worker
    delays evaluation (the sweep re-sends it) and never skips it."""

    id = models.BigAutoField(primary_key=True)
    event_ids = ArrayField(models.BigIntegerField())
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("待评估事件批次")
        verbose_name_plural = _("待评估事件批次")
        indexes = [
            models.Index(
                fields=["created_at"],
                name="eventbatch_pending",
                condition=models.Q(processed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} ({len(self.event_ids)})"


class Material(models.Model):
    """A link we send in content: each recipient gets a short signed URL of their own
    (``/t/<token>``) that records the open and redirects here. Made automatically the
    first time content carrying the URL is sent; ops set its category in the admin.
    With ``article`` set (an approved library content), the link opens our own H5
    article page, which also records how long it was read."""

    class Category(models.TextChoices):
        # The codes are the interests' codes (tagging.intent) where one fits.
        FUNDS = "funds", _("基金")
        INSURANCE = "insurance", _("保险")
        LOANS = "loans", _("贷款")
        CARDS = "cards", _("信用卡")
        DEPOSITS = "deposits", _("存款")
        MOVIES = "movies", _("电影")
        FOOD = "food", _("美食")
        OTHER = "other", _("其他")

    title = models.CharField(_("标题"), max_length=128)
    url = models.URLField(_("目标链接"), max_length=2000, unique=True)
    category = models.CharField(
        _("分类"), max_length=16, choices=Category.choices, default=Category.OTHER
    )
    interest = models.CharField(
        _("兴趣代码"), max_length=48, blank=True, help_text=_("可选：打开素材时计入的兴趣")
    )
    article = models.ForeignKey(
        "content.Content",
        verbose_name=_("H5 文章"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("设置后，链接打开本系统的 H5 文章页（须为已通过审核的内容）并记录阅读时长"),
    )
    first_content = models.ForeignKey(
        "content.Content",
        verbose_name=_("首次发送的内容"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    opens = models.PositiveIntegerField(_("打开次数（私聊）"), default=0)
    group_opens = models.PositiveIntegerField(_("打开次数（群聊）"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("追踪素材")
        verbose_name_plural = _("追踪素材")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class Watermark(models.Model):
    """How far a periodic scan that turns other apps' rows into events has got (the
    campaigns' coupon scan): the scan reads from a little before it, so a row whose
    transaction committed late is still seen; event ids make the overlap harmless."""

    name = models.CharField(_("名称"), max_length=64, primary_key=True)
    at = models.DateTimeField(_("已扫描至"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("事件扫描进度")
        verbose_name_plural = _("事件扫描进度")

    def __str__(self) -> str:
        return f"{self.name}@{self.at:%Y-%m-%d %H:%M:%S}"
