"""Ops views of WeCom traffic: the callback inbox (with replay) and the API call log."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .inbox import inbox_event_replay
from .models import ApiCall, InboxEvent


@admin.register(InboxEvent)
class InboxEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "received_at",
        "event",
        "change_type",
        "status",
        "attempts",
        "processed_at",
    )
    list_filter = ("status", "event", "change_type")
    search_fields = ("dedupe_key",)
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboxEvent._meta.fields]
    actions = ["replay"]

    @admin.action(description=_("重新处理所选事件"))
    def replay(self, request, queryset):
        count = inbox_event_replay(event_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, _("已重新排队 %(n)d 个事件") % {"n": count}, messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiCall)
class ApiCallAdmin(admin.ModelAdmin):
    list_display = (
        "at",
        "endpoint",
        "errcode",
        "http_status",
        "latency_ms",
        "attempt",
        "triggered_by",
    )
    list_filter = ("endpoint", "errcode")
    search_fields = ("endpoint", "triggered_by", "request_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
