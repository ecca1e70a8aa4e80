"""SOP in the admin: plans with their weekly slots, a 7-day preview, sends and deliveries."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from groups.models import CustomerGroup
from scrm.core.errors import DomainError

from . import services
from .models import SopDelivery, SopOccurrence, SopPlan, SopPush, SopSlot
from .selectors import sop_group_preview, sop_plan_target_groups


class SopSlotForm(forms.ModelForm):
    class Meta:
        model = SopSlot
        fields = ("weekday", "time", "valid_from", "valid_until", "content", "note", "is_active")

    def clean(self):
        data = super().clean()
        content = data.get("content")
        if content is not None:
            try:
                services.sop_slot_validate(content_id=content.pk)
            except DomainError as exc:
                self.add_error("content", exc.message)
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("截止日期不能早于生效日期"))
        return data


class SopSlotInline(admin.TabularInline):
    model = SopSlot
    form = SopSlotForm
    extra = 1
    autocomplete_fields = ()


class SopPlanForm(forms.ModelForm):
    class Meta:
        model = SopPlan
        fields = (
            "name",
            "status",
            "holiday_policy",
            "start_date",
            "end_date",
            "target_pools",
            "target_regions",
            "target_owners",
            "target_groups",
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("结束日期不能早于开始日期"))
        return data


@admin.register(SopPlan)
class SopPlanAdmin(admin.ModelAdmin):
    form = SopPlanForm
    list_display = ("name", "status", "holiday_policy", "start_date", "end_date", "preview_link")
    list_filter = ("status", "holiday_policy")
    search_fields = ("name",)
    filter_horizontal = ("target_pools", "target_regions", "target_owners", "target_groups")
    inlines = [SopSlotInline]
    readonly_fields = ("paused_at", "active_since", "created_by")
    actions = ["pause_plans", "resume_plans"]

    def save_model(self, request, obj, form, change):
        services.sop_plan_save(plan=obj, actor=request.user)

    @admin.display(description=_("预览"))
    def preview_link(self, obj):
        url = reverse("admin:sop_sopplan_preview", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("未来 7 天"))

    @admin.action(description=_("暂停所选计划"))
    def pause_plans(self, request, queryset):
        for plan in queryset:
            services.sop_plan_pause(plan_id=plan.pk)
        self.message_user(request, _("已暂停"), messages.SUCCESS)

    @admin.action(description=_("恢复所选计划"))
    def resume_plans(self, request, queryset):
        for plan in queryset:
            services.sop_plan_resume(plan_id=plan.pk)
        self.message_user(request, _("已恢复"), messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "<int:plan_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="sop_sopplan_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, plan_id: int):
        plan = get_object_or_404(SopPlan, pk=plan_id)
        if not self.has_view_permission(request, plan):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        groups = sop_plan_target_groups(plan=plan).order_by("name")
        group = None
        if request.GET.get("group"):
            group = get_object_or_404(CustomerGroup, pk=request.GET["group"])
        elif groups.exists():
            group = groups.first()
        items = sop_group_preview(group=group) if group else []
        context = {
            **self.admin_site.each_context(request),
            "title": _("未来 7 天预览：%(plan)s") % {"plan": plan.name},
            "plan": plan,
            "groups": groups[:500],
            "group": group,
            "items": items,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/sop/preview.html", context)


class DeliveryInline(admin.TabularInline):
    model = SopDelivery
    extra = 0
    fields = ("group", "owner_userid", "status", "reason", "msgid", "attempts")
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    max_num = 0


@admin.register(SopOccurrence)
class SopOccurrenceAdmin(admin.ModelAdmin):
    list_display = ("plan", "slot", "send_at", "status", "group_count", "reason")
    list_filter = ("status", "plan")
    date_hierarchy = "send_at"
    readonly_fields = [f.name for f in SopOccurrence._meta.fields]
    actions = ["cancel_occurrences"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("取消所选批次"))
    def cancel_occurrences(self, request, queryset):
        stopped = sum(services.sop_occurrence_cancel(occurrence_id=o.pk) for o in queryset)
        self.message_user(request, _("已取消，停止 %(n)s 个群的推送") % {"n": stopped})


@admin.register(SopDelivery)
class SopDeliveryAdmin(admin.ModelAdmin):
    list_display = ("occurrence", "group", "owner_userid", "status", "reason", "attempts")
    list_filter = ("status",)
    search_fields = ("owner_userid", "msgid", "group__name")
    readonly_fields = [f.name for f in SopDelivery._meta.fields]
    list_select_related = ("occurrence__plan", "group")

    def has_add_permission(self, request):
        return False


@admin.register(SopPush)
class SopPushAdmin(admin.ModelAdmin):
    list_display = ("occurrence", "owner_userid", "chunk", "status", "msgid", "attempts")
    list_filter = ("status",)
    search_fields = ("owner_userid", "msgid")
    readonly_fields = [f.name for f in SopPush._meta.fields]

    def has_add_permission(self, request):
        return False
