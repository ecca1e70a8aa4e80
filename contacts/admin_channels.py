"""Admin for channel codes (渠道活码) and the staff directory."""

from django.contrib import admin

from .models import ChannelCode, Staff


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("userid", "name", "branch", "status", "user")
    list_filter = ("status", "branch")
    search_fields = ("userid", "name")
    raw_id_fields = ("user",)


@admin.register(ChannelCode)
class ChannelCodeAdmin(admin.ModelAdmin):
    list_display = ("name", "channel_type", "state", "is_active", "created_at")
    list_filter = ("channel_type", "is_active")
    search_fields = ("name", "state")
    filter_horizontal = ("staff",)
