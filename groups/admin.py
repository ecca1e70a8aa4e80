from django.contrib import admin

from .models import CustomerGroup, GroupMember, GroupPool, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "latitude", "longitude", "is_active")
    list_filter = ("level", "is_active")
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)


@admin.register(GroupPool)
class GroupPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "capacity", "verified_only", "is_active")
    list_filter = ("verified_only", "is_active")
    raw_id_fields = ("region", "owner")


class MemberInline(admin.TabularInline):
    model = GroupMember
    extra = 0
    fields = ("userid", "member_type", "name", "join_time", "join_scene", "is_active")
    readonly_fields = fields
    can_delete = False


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "chat_id", "owner", "pool", "member_count", "status")
    list_filter = ("status", "pool")
    search_fields = ("name", "chat_id")
    raw_id_fields = ("owner", "pool", "region")
    inlines = [MemberInline]
