from django.contrib import admin

from .models import Branch, Customer, FollowRelation, TimelineEntry


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "parent")
    search_fields = ("code", "name")


class FollowInline(admin.TabularInline):
    model = FollowRelation
    extra = 0
    raw_id_fields = ("staff",)
    fields = ("staff", "status", "remark", "add_way", "state", "added_at", "removed_at")
    readonly_fields = ("added_at", "removed_at")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "external_userid", "ring", "status", "first_channel", "created_at")
    list_filter = ("status", "ring", "first_channel")
    search_fields = ("external_userid", "name")
    inlines = [FollowInline]
    readonly_fields = ("first_channel", "first_state", "first_added_at", "verified_at")


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "customer", "kind", "summary")
    list_filter = ("kind",)
    raw_id_fields = ("customer", "staff")


# Channel codes and the staff directory have their own module.
from . import admin_channels  # noqa: E402, F401
