"""Ops views of WeCom traffic: the callback inbox (with replay) and the API call log."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from scrm.core.audit import audit_record
from scrm.core.models import AuditEvent

from .inbox import inbox_event_replay
from .models import ApiCall, InboxEvent, ReconcileHold


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


@admin.register(ReconcileHold)
class ReconcileHoldAdmin(admin.ModelAdmin):
    """Reconciles that stopped before a mass removal; ops confirm to let one proceed."""

    list_display = ("created_at", "reason", "resolved_at", "resolution", "confirmed_by")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter),)
    readonly_fields = [f.name for f in ReconcileHold._meta.fields]
    actions = ["confirm_and_sync"]

    @admin.action(description=_("已核实企业微信数据无误：确认并执行同步"), permissions=["change"])
    def confirm_and_sync(self, request, queryset):
        from .tasks import wecom_sync

        if not queryset.filter(resolved_at__isnull=True).exists():
            self.message_user(request, _("所选记录均已处理"), messages.WARNING)
            return
        audit_record(
            actor=request.user,
            request=request,
            action=AuditEvent.Action.CHANGE,
            target="wecom.reconcilehold",
            details={
                "operation": "confirm_mass_removal",
                "holds": list(queryset.values_list("pk", flat=True)),
            },
        )
        wecom_sync.delay(confirm_mass_removal=True, confirmed_by_id=request.user.pk)
        self.message_user(
            request, _("已确认，同步已排队执行，完成后该记录将标记为已处理"), messages.SUCCESS
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
