"""Ops edit tag rules here: each save is a version (who, when, what changed); a rule
can be previewed before it is saved ("would tag N customers now") and back-filled
over history (it is, by itself, when switched on)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError
from tagging.behaviour.models import EventType

from . import services
from .models import RuleFiring, TagRule, TagRuleVersion


class TagRuleForm(forms.ModelForm):
    event_type = forms.ChoiceField(label=_("事件类型"))

    class Meta:
        model = TagRule
        fields = [
            "name",
            "description",
            "enabled",
            "event_type",
            "property_filter",
            "min_count",
            "window_days",
            "tag",
            "interest",
            "points",
            "stale_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = [
            (t.code, f"{t.name}（{t.code}）") for t in EventType.objects.order_by("code")
        ]
        if "tag" in self.fields:
            self.fields["tag"].queryset = self.fields["tag"].queryset.filter(is_deleted=False)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        rule = self.instance
        for name in self.Meta.fields:
            if name in cleaned:
                setattr(rule, name, cleaned[name])
        try:
            services.tag_rule_validate(rule)
        except DomainError as exc:
            raise ValidationError(exc.message) from exc
        return cleaned


class VersionInline(admin.TabularInline):
    model = TagRuleVersion
    extra = 0
    can_delete = False
    fields = ["number", "changed_at", "changed_by", "changes", "snapshot_shown"]
    readonly_fields = fields
    ordering = ["-number"]
    verbose_name_plural = _("修改历史")

    @admin.display(description=_("内容"))
    def snapshot_shown(self, obj):
        return json.dumps(obj.snapshot, ensure_ascii=False)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TagRule)
class TagRuleAdmin(admin.ModelAdmin):
    form = TagRuleForm
    change_form_template = "admin/tag_rules/tagrule/change_form.html"
    inlines = [VersionInline]
    list_display = [
        "name",
        "enabled",
        "event_type",
        "filter_shown",
        "min_count",
        "window_days",
        "tag",
        "interest",
        "points",
        "stale_days",
        "version",
        "updated_by",
        "backfill_shown",
    ]
    list_filter = ["enabled", "event_type"]
    search_fields = ["name"]
    readonly_fields = ["version", "created_by", "updated_by", "backfill_done_at"]
    autocomplete_fields: list[str] = []
    actions = ["preview_selected", "backfill_selected"]

    @admin.display(description=_("属性条件"))
    def filter_shown(self, obj):
        return json.dumps(obj.property_filter, ensure_ascii=False) if obj.property_filter else "—"

    @admin.display(description=_("回溯"))
    def backfill_shown(self, obj):
        if obj.backfill_cursor is not None:
            return _("进行中（至事件 #%(id)s）") % {"id": obj.backfill_cursor}
        if obj.backfill_done_at:
            return _("已完成")
        return "—"

    def save_model(self, request, obj, form, change):
        services.tag_rule_save(rule=obj, user=request.user)

    def delete_model(self, request, obj):
        services.tag_rule_delete(rule_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            services.tag_rule_delete(rule_id=rule.pk)

    @admin.action(description=_("预览所选规则当前命中人数"))
    def preview_selected(self, request, queryset):
        for rule in queryset:
            preview = services.tag_rule_preview(rule=rule)
            self.message_user(
                request,
                _("「%(name)s」：现在会命中 %(n)s 位客户（其中 %(new)s 位尚无此标签）")
                % {"name": rule.name, "n": f"{preview.customers:,}", "new": f"{preview.new:,}"},
                messages.INFO,
            )

    @admin.action(description=_("回溯历史事件（后台分批执行）"))
    def backfill_selected(self, request, queryset):
        started = 0
        for rule in queryset:
            try:
                services.tag_rule_backfill(rule_id=rule.pk)
                started += 1
            except DomainError as exc:
                self.message_user(request, f"{rule.name}：{exc.message}", messages.ERROR)
        if started:
            self.message_user(
                request, _("已开始回溯 %(n)s 条规则") % {"n": started}, messages.SUCCESS
            )

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="tag_rules_tagrule_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        """The change form posted here instead of saving: the count, nothing saved."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        rule = None
        if request.GET.get("rule"):
            rule = get_object_or_404(TagRule, pk=request.GET["rule"])
        allowed = (
            self.has_change_permission(request, rule)
            if rule is not None
            else self.has_add_permission(request)
        )
        if not allowed:
            raise PermissionDenied
        form = TagRuleForm(request.POST, instance=rule or TagRule())
        preview = None
        if form.is_valid():
            preview = services.tag_rule_preview(rule=form.instance)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("规则预览"),
            "form": form,
            "rule": form.instance,
            "preview": preview,
            "count": f"{preview.customers:,}" if preview else "",
            "new": f"{preview.new:,}" if preview else "",
        }
        return TemplateResponse(request, "admin/tag_rules/tagrule/preview.html", context)


@admin.register(RuleFiring)
class RuleFiringAdmin(admin.ModelAdmin):
    list_display = ["rule", "version", "customer", "tag", "fired_at"]
    list_filter = ["rule"]
    list_select_related = ["rule", "customer", "tag"]
    readonly_fields = ["rule", "version", "customer", "tag", "event_ids", "fired_at"]
    raw_id_fields = ["customer"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
