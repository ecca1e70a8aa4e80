"""Admin for regions, pools, groups and their daily figures; pools are saved by the pool service."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from .models import CustomerGroup, GroupDayStat, GroupMember, GroupPool, Region, RoutingDecision
from .pools import (
    PoolSaved,
    group_place,
    pool_rotate_join_way,
    pool_save,
    pool_validate,
    pool_wecom_push,
)
from .selectors import groups_visible_to, groups_with_fill, pools_with_rollover, regions_with_counts


def _percent(value) -> str:
    return "-" if value is None else f"{value:.0%}"


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "level",
        "parent",
        "latitude",
        "longitude",
        "child_count",
        "pool_count",
        "dormant_groups",
        "dying_groups",
        "is_active",
    )
    list_filter = ("level", "is_active")
    list_editable = ("is_active",)
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)

    def get_queryset(self, request):
        return regions_with_counts(super().get_queryset(request)).select_related("parent")

    @admin.display(description=_("下级地区"), ordering="child_count")
    def child_count(self, obj):
        return obj.child_count

    @admin.display(description=_("群池"), ordering="pool_count")
    def pool_count(self, obj):
        return obj.pool_count

    def _groups_link(self, obj, health: str, count: int):
        if not count:
            return 0
        url = reverse("admin:groups_customergroup_changelist")
        return format_html(
            '<a href="{}?region__id__exact={}&health__exact={}">{}</a>', url, obj.pk, health, count
        )

    @admin.display(description=_("沉默群"), ordering="dormant_count")
    def dormant_groups(self, obj):
        return self._groups_link(obj, CustomerGroup.Health.DORMANT, obj.dormant_count)

    @admin.display(description=_("流失群"), ordering="dying_count")
    def dying_groups(self, obj):
        return self._groups_link(obj, CustomerGroup.Health.DYING, obj.dying_count)


class GroupPoolForm(forms.ModelForm):
    """Ops pick the pool's first groups; welcome and notice go through their services."""

    initial_groups = forms.ModelMultipleChoiceField(
        label=_("初始客户群"),
        queryset=CustomerGroup.objects.filter(status=CustomerGroup.Status.NORMAL, pool=None),
        required=False,
        help_text=_("新建群池时选择1至5个群；保存后自动创建企业微信群活码"),
    )
    welcome = forms.CharField(
        label=_("入群欢迎语"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("写明本周福利安排；修改后同步到本池所有群"),
    )
    notice = forms.CharField(
        label=_("群公告模板"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("企业微信无群公告接口：修改后为各群群主生成“更新群公告”任务"),
    )

    class Meta:
        model = GroupPool
        fields = (
            "name",
            "region",
            "is_default",
            "capacity",
            "verified_only",
            "room_base_name",
            "room_base_id",
            "owner",
            "dormant_days",
            "dying_loss_pct",
            "is_active",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["welcome"].initial = self.instance.welcome_text
            self.fields["notice"].initial = self.instance.notice_text
            self.fields["initial_groups"].required = False
        if self.instance.pk and self.instance.join_way_config_id:
            del self.fields["initial_groups"]

    def clean(self):
        data = super().clean()
        groups = data.get("initial_groups")
        if groups:
            try:
                pool_validate(pool=self.instance, groups=list(groups))
            except DomainError as exc:
                self.add_error(exc.data.get("field"), exc.message)
        return data


@admin.register(GroupPool)
class GroupPoolAdmin(admin.ModelAdmin):
    form = GroupPoolForm
    list_display = (
        "name",
        "region",
        "is_default",
        "capacity",
        "group_count",
        "open_groups",
        "fill_level",
        "join_way_groups",
        "rolled_over_at",
        "verified_only",
        "is_active",
    )
    list_filter = ("verified_only", "is_active", "is_default")
    search_fields = ("name", "region__name", "region__code")
    raw_id_fields = ("region", "owner")
    readonly_fields = ("join_way_config_id", "join_way_state", "qr_code", "join_way_chat_ids")
    actions = ("rotate_join_way",)

    def get_queryset(self, request):
        return pools_with_rollover(super().get_queryset(request)).select_related("region")

    def save_model(self, request, obj, form, change):
        saved = pool_save(
            pool=obj,
            groups=list(form.cleaned_data.get("initial_groups") or []),
            changed_fields=form.changed_data,
            welcome=form.cleaned_data.get("welcome") or "",
            notice=form.cleaned_data.get("notice") or "",
        )
        if saved.notice_tasks:
            self.message_user(
                request, _("已为群主生成%(n)d条“更新群公告”任务") % {"n": saved.notice_tasks}
            )
        # The admin's transaction holds the pool's row until the view returns:
        # WeCom is called once it has committed.
        transaction.on_commit(lambda: self._push(request, saved))

    def _push(self, request, saved: PoolSaved) -> None:
        try:
            pool_wecom_push(pool_id=saved.pool.pk, welcome=saved.welcome)
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    @admin.action(description=_("按满员情况更新群活码"))
    def rotate_join_way(self, request, queryset):
        from scrm.wecom.errors import WeComError

        changed = 0
        for pool in queryset:
            try:
                changed += int(pool_rotate_join_way(pool_id=pool.pk, refresh=True))
            except WeComError as exc:
                self.message_user(
                    request,
                    _("%(pool)s：企业微信更新群活码失败：%(e)s") % {"pool": pool, "e": exc.errmsg},
                    level=messages.ERROR,
                )
        self.message_user(request, _("已更新%(n)d个群活码") % {"n": changed})

    @admin.display(description=_("群数"), ordering="group_count")
    def group_count(self, obj):
        return obj.group_count

    @admin.display(description=_("未满群"), ordering="open_count")
    def open_groups(self, obj):
        return obj.open_count

    @admin.display(description=_("满员率"), ordering="fill")
    def fill_level(self, obj):
        return _percent(obj.fill)

    @admin.display(description=_("活码当前群"))
    def join_way_groups(self, obj):
        return len(obj.join_way_chat_ids or [])


class MemberInline(admin.TabularInline):
    model = GroupMember
    extra = 0
    fields = (
        "userid",
        "member_type",
        "name",
        "join_time",
        "join_scene",
        "quit_scene",
        "is_active",
        "flagged_unverified",
    )
    readonly_fields = fields
    can_delete = False

    # Members are mirrored from WeCom: shown, never written here.
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "chat_id",
        "owner",
        "pool",
        "region",
        "members_of_capacity",
        "fill_level",
        "health",
        "last_active_on",
        "notice_state",
        "status",
    )
    list_filter = ("status", "health", "pool", "region")
    search_fields = ("name", "chat_id", "owner_userid")
    raw_id_fields = ("owner", "pool", "region")
    inlines = [MemberInline]
    # A group is WeCom's: ops only choose its pool (and region); the rest is mirrored.
    fields = (
        "pool",
        "region",
        "name",
        "chat_id",
        "owner",
        "owner_userid",
        "status",
        "member_count",
        "health",
        "health_checked_on",
        "last_active_on",
        "notice_version",
    )
    readonly_fields = fields[2:]

    def has_add_permission(self, request):
        return False  # groups come from WeCom

    def save_model(self, request, obj, form, change):
        group_place(group_id=obj.pk, pool_id=obj.pool_id, region_id=obj.region_id)

    def get_queryset(self, request):
        visible = groups_visible_to(user=request.user)
        return groups_with_fill(visible).select_related("owner", "pool", "region")

    @admin.display(description=_("成员/容量"), ordering="member_count")
    def members_of_capacity(self, obj):
        return f"{obj.member_count}/{obj.capacity}"

    @admin.display(description=_("满员率"), ordering="fill")
    def fill_level(self, obj):
        return _percent(obj.fill)

    @admin.display(description=_("群公告"))
    def notice_state(self, obj):
        if obj.pool is None or not obj.pool.notice_version:
            return "-"
        if obj.notice_version >= obj.pool.notice_version:
            return _("已更新")
        return _("待群主更新")


@admin.register(GroupDayStat)
class GroupDayStatAdmin(admin.ModelAdmin):
    list_display = ("day", "group", "member_count", "joins", "leaves", "net", "active", "msg_total")
    list_filter = ("day", "active")
    search_fields = ("group__name", "group__chat_id")
    raw_id_fields = ("group",)
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "source",
        "matched_region",
        "distance_km",
        "pool",
        "fallback",
        "visitor",
        "outcome",
    )
    list_filter = ("source", "fallback", "visitor", "outcome")
    date_hierarchy = "created_at"
    raw_id_fields = ("requested_region", "matched_region", "pool_region", "pool", "customer")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
