"""Regions, WeCom customer groups and their members (D3, D4, D5).

A ``GroupPool`` is a region's set of groups behind one WeCom join way (at most
5 groups each); the pool rolls over to groups with room as they fill up.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """province → city → district / branch area, with a centre for routing."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省级")
        CITY = "city", _("地市级")
        DISTRICT = "district", _("区县/片区")

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("级别"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    latitude = models.FloatField(_("纬度"), null=True, blank=True)
    longitude = models.FloatField(_("经度"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("地区")
        verbose_name_plural = _("地区")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class GroupPool(models.Model):
    """A region's pool of groups behind one WeCom group join way (群活码)."""

    name = models.CharField(_("名称"), max_length=64)
    region = models.ForeignKey(
        Region,
        verbose_name=_("地区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pools",
    )
    is_default = models.BooleanField(_("默认池"), default=False)
    capacity = models.PositiveIntegerField(_("每群扫码上限"), default=200)
    verified_only = models.BooleanField(_("仅限认证客户"), default=False)
    room_base_name = models.CharField(_("自动建群名称"), max_length=40, blank=True)
    room_base_id = models.PositiveIntegerField(_("自动建群起始序号"), default=1)
    owner = models.ForeignKey(
        "contacts.Staff",
        verbose_name=_("群主"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pools",
    )
    join_way_config_id = models.CharField(_("进群方式 config_id"), max_length=64, blank=True)
    join_way_state = models.CharField(_("进群 state"), max_length=30, blank=True)
    qr_code = models.URLField(_("群二维码"), max_length=500, blank=True)
    # The groups the join way points at in WeCom, as last written or read (≤5).
    join_way_chat_ids = models.JSONField(_("活码当前群"), default=list, blank=True)
    rolled_over_at = models.DateTimeField(_("最近换群时间"), null=True, blank=True)
    welcome_text = models.TextField(
        _("入群欢迎语"), blank=True, help_text=_("写明本周福利安排：哪天、几点、什么优惠")
    )
    welcome_template_id = models.CharField(_("欢迎语素材ID"), max_length=64, blank=True)
    welcome_version = models.PositiveIntegerField(_("欢迎语版本"), default=0)
    notice_text = models.TextField(_("群公告模板"), blank=True)
    notice_version = models.PositiveIntegerField(_("群公告版本"), default=0)
    dormant_days = models.PositiveSmallIntegerField(
        _("沉默判定天数"), default=7, help_text=_("连续多少天无人发言视为沉默群")
    )
    dying_loss_pct = models.PositiveSmallIntegerField(
        _("流失判定比例(%)"), default=10, help_text=_("一周内净流失超过该比例视为流失群")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("群池")
        verbose_name_plural = _("群池")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerGroup(models.Model):
    """A WeCom customer group (客户群), mirrored from WeCom."""

    class Status(models.TextChoices):
        NORMAL = "normal", _("正常")
        DISMISSED = "dismissed", _("已解散")

    class Health(models.TextChoices):
        UNKNOWN = "unknown", _("未计算")
        HEALTHY = "healthy", _("健康")
        DORMANT = "dormant", _("沉默")
        DYING = "dying", _("流失")

    chat_id = models.CharField(_("群ID"), max_length=64, unique=True)
    name = models.CharField(_("群名"), max_length=128, blank=True)
    owner = models.ForeignKey(
        "contacts.Staff",
        verbose_name=_("群主"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_groups",
    )
    owner_userid = models.CharField(_("群主账号"), max_length=64, blank=True, db_index=True)
    admin_userids = models.JSONField(_("群管理员"), default=list, blank=True)
    notice = models.TextField(_("群公告"), blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.NORMAL, db_index=True
    )
    pool = models.ForeignKey(
        GroupPool,
        verbose_name=_("群池"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="groups",
    )
    region = models.ForeignKey(
        Region,
        verbose_name=_("地区"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="groups",
    )
    member_count = models.PositiveIntegerField(_("成员数"), default=0)
    customer_count = models.PositiveIntegerField(_("客户数"), default=0)
    member_version = models.CharField(_("成员版本"), max_length=64, blank=True)
    welcome_version = models.PositiveIntegerField(_("欢迎语版本"), default=0)
    notice_version = models.PositiveIntegerField(_("已生效公告版本"), default=0)
    health = models.CharField(
        _("健康度"), max_length=16, choices=Health.choices, default=Health.UNKNOWN, db_index=True
    )
    health_checked_on = models.DateField(_("健康度计算日"), null=True, blank=True)
    last_active_on = models.DateField(_("最近活跃日"), null=True, blank=True)
    wecom_created_at = models.DateTimeField(_("建群时间"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("解散时间"), null=True, blank=True)
    synced_at = models.DateTimeField(_("同步时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("客户群")
        verbose_name_plural = _("客户群")
        ordering = ["name"]
        indexes = [models.Index(fields=["pool", "status"])]

    def __str__(self) -> str:
        return self.name or self.chat_id


class GroupMember(models.Model):
    """A member of a customer group: staff (type 1) or customer (type 2)."""

    class MemberType(models.IntegerChoices):
        STAFF = 1, _("员工")
        CUSTOMER = 2, _("客户")

    group = models.ForeignKey(
        CustomerGroup, verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="members"
    )
    userid = models.CharField(_("成员ID"), max_length=64)
    member_type = models.PositiveSmallIntegerField(_("成员类型"), choices=MemberType.choices)
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="group_memberships",
    )
    unionid = models.CharField(_("UnionID"), max_length=64, blank=True)
    name = models.CharField(_("名称"), max_length=128, blank=True)
    group_nickname = models.CharField(_("群昵称"), max_length=128, blank=True)
    invitor_userid = models.CharField(_("邀请人"), max_length=64, blank=True)
    join_time = models.DateTimeField(_("入群时间"), null=True, blank=True)
    join_scene = models.PositiveSmallIntegerField(_("入群方式"), null=True, blank=True)
    quit_scene = models.PositiveSmallIntegerField(_("退群方式"), null=True, blank=True)
    left_at = models.DateTimeField(_("退群时间"), null=True, blank=True)
    is_active = models.BooleanField(_("在群"), default=True, db_index=True)
    flagged_unverified = models.BooleanField(_("未认证提醒"), default=False)

    class Meta:
        verbose_name = _("群成员")
        verbose_name_plural = _("群成员")
        constraints = [
            models.UniqueConstraint(fields=["group", "userid"], name="uniq_group_member")
        ]
        indexes = [models.Index(fields=["customer", "is_active"])]

    def __str__(self) -> str:
        return self.name or self.userid


class GroupMemberChange(models.Model):
    """A join or a leave, written once per actual change of a group's member list.

    Derived from the difference between the stored and WeCom's member list, so
    a callback delivered twice or out of order cannot count a change twice.
    """

    class Kind(models.TextChoices):
        JOIN = "join", _("入群")
        LEAVE = "leave", _("退群")

    group = models.ForeignKey(
        CustomerGroup, verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="changes"
    )
    userid = models.CharField(_("成员ID"), max_length=64)
    member_type = models.PositiveSmallIntegerField(
        _("成员类型"), choices=GroupMember.MemberType.choices
    )
    kind = models.CharField(_("变动"), max_length=8, choices=Kind.choices)
    scene = models.PositiveSmallIntegerField(_("方式"), null=True, blank=True)
    at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("成员变动")
        verbose_name_plural = _("成员变动")
        indexes = [models.Index(fields=["group", "at"])]

    def __str__(self) -> str:
        return f"{self.userid} {self.get_kind_display()}"


class GroupDayStat(models.Model):
    """One group's day (D6 health): members, joins, leaves and WeCom's activity figures."""

    group = models.ForeignKey(
        CustomerGroup, verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="day_stats"
    )
    day = models.DateField(_("日期"))
    member_count = models.PositiveIntegerField(_("成员数"), default=0)
    joins = models.PositiveIntegerField(_("入群"), default=0)
    leaves = models.PositiveIntegerField(_("退群"), default=0)
    net = models.IntegerField(_("净增"), default=0)
    # From groupchat/statistic (per owner): known only when it pins down this group.
    active = models.BooleanField(_("有人发言"), null=True, blank=True)
    msg_total = models.PositiveIntegerField(_("消息数"), null=True, blank=True)
    computed_at = models.DateTimeField(_("计算时间"), auto_now=True)

    class Meta:
        verbose_name = _("群日统计")
        verbose_name_plural = _("群日统计")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="uniq_group_day_stat")]

    def __str__(self) -> str:
        return f"{self.group_id} {self.day}"


class RoutingDecision(models.Model):
    """One "join your local group" decision, kept for analytics (D3, D4, D13).

    Coordinates are stored rounded to 2 decimals (about 1 km): enough to see
    where demand comes from, not enough to locate a person.
    """

    class Source(models.TextChoices):
        GEOLOCATION = "geo", _("定位")
        PICKER = "picker", _("手动选择城市")

    class Fallback(models.TextChoices):
        NEAREST = "nearest", _("最近地区")
        PARENT = "parent", _("上级地区")
        DEFAULT = "default", _("默认群池")
        NONE = "none", _("无可用群池")

    class Outcome(models.TextChoices):
        GROUP = "group", _("展示群二维码")
        MANAGER_CODE = "manager_code", _("展示客户经理二维码")
        MESSAGE = "message", _("仅提示")
        NO_POOL = "no_pool", _("无可用群池")

    class Visitor(models.TextChoices):
        ANONYMOUS = "anonymous", _("匿名访客")
        UNKNOWN = "unknown", _("未知客户")
        UNVERIFIED = "unverified", _("未认证客户")
        VERIFIED = "verified", _("已认证客户")

    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    source = models.CharField(_("来源"), max_length=8, choices=Source.choices)
    latitude = models.DecimalField(
        _("纬度(约1公里)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("经度(约1公里)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    requested_region = models.ForeignKey(
        Region,
        verbose_name=_("选择的地区"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    matched_region = models.ForeignKey(
        Region,
        verbose_name=_("匹配地区"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    distance_km = models.FloatField(_("距离(公里)"), null=True, blank=True)
    pool_region = models.ForeignKey(
        Region,
        verbose_name=_("群池所在地区"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pool = models.ForeignKey(
        GroupPool,
        verbose_name=_("群池"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="routing_decisions",
    )
    fallback = models.CharField(_("匹配方式"), max_length=8, choices=Fallback.choices)
    visitor = models.CharField(_("访客"), max_length=12, choices=Visitor.choices)
    customer = models.ForeignKey(
        "contacts.Customer",
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="routing_decisions",
    )
    outcome = models.CharField(_("结果"), max_length=16, choices=Outcome.choices)

    class Meta:
        verbose_name = _("分群记录")
        verbose_name_plural = _("分群记录")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["pool", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_fallback_display()}"
