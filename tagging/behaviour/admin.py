"""Admin of behaviour: event types (ops add the bank's; the built-in ones are read
only), the events (read only, on a table of tens of millions of rows: no full count,
no distinct scans) and the tracked materials with their open counts. Every write goes
through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from . import services
from .models import Event, EventType, Material

COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most ``COUNT_CAP`` rows (a ``LIMIT`` under the count): paging a huge
    table stops at page ``COUNT_CAP / per_page``; narrow with the filters."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_CAP].count()


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "builtin", "accept_from_api", "created_at"]
    list_filter = ["builtin", "accept_from_api"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "description", "accept_from_api", "builtin", "created_at"]
    readonly_fields = ["builtin", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.builtin:
            return self.fields
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        try:
            services.event_type_save(event_type=obj)
        except (DomainError, ValidationError) as exc:
            self.message_user(request, getattr(exc, "message", str(exc)), messages.ERROR)

    def delete_model(self, request, obj):
        services.event_type_delete(event_type=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.filter(builtin=False):
            services.event_type_delete(event_type=obj)


class EventTypeFilter(admin.SimpleListFilter):
    """The registered types (a ``DISTINCT`` over the events table would scan it)."""

    title = _("类型")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return list(EventType.objects.values_list("code", "name"))

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "source", "customer_id", "bank_record_id", "occurred_at"]
    list_filter = [EventTypeFilter, "source", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["=event_id"]
    ordering = ["-id"]
    show_full_result_count = False
    paginator = CappedPaginator
    list_per_page = 50
    raw_id_fields = ["customer", "bank_record"]
    readonly_fields = [
        "source",
        "event_id",
        "customer",
        "bank_record",
        "type",
        "properties",
        "occurred_at",
        "received_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Material)
class MaterialAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "interest", "opens", "group_opens", "created_at"]
    list_filter = ["category"]
    search_fields = ["title", "url"]
    fields = [
        "title",
        "url",
        "category",
        "interest",
        "article",
        "first_content",
        "opens",
        "group_opens",
        "created_at",
    ]
    readonly_fields = ["first_content", "opens", "group_opens", "created_at"]
    raw_id_fields = ["article"]

    def get_readonly_fields(self, request, obj=None):
        # The URL names the material: changing it would send old links elsewhere.
        if obj is not None:
            return [*self.readonly_fields, "url"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        services.material_save(material=obj)
