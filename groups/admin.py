from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import CustomerGroup, GroupMember, GroupPool, Region, RoutingDecision
from .selectors import groups_visible_to, groups_with_fill, pools_with_fill, regions_with_counts


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


@admin.register(GroupPool)
class GroupPoolAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "region",
        "is_default",
        "capacity",
        "group_count",
        "fill_level",
        "verified_only",
        "is_active",
    )
    list_filter = ("verified_only", "is_active", "is_default")
    search_fields = ("name", "region__name", "region__code")
    raw_id_fields = ("region", "owner")

    def get_queryset(self, request):
        return pools_with_fill(super().get_queryset(request)).select_related("region")

    @admin.display(description=_("群数"), ordering="group_count")
    def group_count(self, obj):
        return obj.group_count

    @admin.display(description=_("满员率"), ordering="fill")
    def fill_level(self, obj):
        return _percent(obj.fill)


class MemberInline(admin.TabularInline):
    model = GroupMember
    extra = 0
    fields = ("userid", "member_type", "name", "join_time", "join_scene", "is_active")
    readonly_fields = fields
    can_delete = False


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
        "status",
    )
    list_filter = ("status", "pool")
    search_fields = ("name", "chat_id", "owner_userid")
    raw_id_fields = ("owner", "pool", "region")
    inlines = [MemberInline]

    def get_queryset(self, request):
        visible = groups_visible_to(user=request.user)
        return groups_with_fill(visible).select_related("owner", "pool", "region")

    @admin.display(description=_("成员/容量"), ordering="member_count")
    def members_of_capacity(self, obj):
        return f"{obj.member_count}/{obj.capacity}"

    @admin.display(description=_("满员率"), ordering="fill")
    def fill_level(self, obj):
        return _percent(obj.fill)


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
