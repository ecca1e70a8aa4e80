"""Admin for corp tags: every save and delete goes to WeCom through the services (D9)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from . import services
from .models import CustomerTag, Tag, TagGroup


class TagInline(admin.TabularInline):
    model = Tag
    extra = 1
    fields = ("name", "order", "wecom_id", "is_deleted", "synced_at")
    readonly_fields = ("wecom_id", "is_deleted", "synced_at")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(is_deleted=False)


@admin.register(TagGroup)
class TagGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "order", "wecom_id", "tag_count", "is_deleted", "synced_at")
    list_filter = ("is_deleted",)
    search_fields = ("name", "tags__name")
    readonly_fields = ("wecom_id", "is_deleted", "synced_at")
    inlines = [TagInline]
    actions = ["delete_in_wecom"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description=_("标签数"))
    def tag_count(self, obj: TagGroup) -> int:
        return sum(1 for t in obj.tags.all() if not t.is_deleted)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Deleting rows here would lose WeCom's ids; the action below deletes in WeCom.
        actions.pop("delete_selected", None)
        return actions

    def save_formset(self, request, form, formset, change):
        if formset.model is not Tag:
            return super().save_formset(request, form, formset, change)
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            try:
                services.tag_delete(tag_id=obj.pk)
            except DomainError as exc:
                messages.error(request, exc.message)
        for obj in instances:
            obj.save()
        formset.save_m2m()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        try:
            services.tag_group_push(group_id=form.instance.pk)
        except DomainError as exc:
            messages.error(request, _("已在本地保存，") + str(exc.message))
        else:
            messages.info(request, _("已同步到企业微信"))

    def delete_model(self, request, obj: TagGroup) -> None:
        try:
            services.tag_group_delete(group_id=obj.pk)
        except DomainError as exc:
            messages.error(request, exc.message)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    @admin.action(description=_("删除所选标签组（同步删除企业微信标签）"))
    def delete_in_wecom(self, request, queryset) -> None:
        done = 0
        for group in queryset.filter(is_deleted=False):
            try:
                services.tag_group_delete(group_id=group.pk)
                done += 1
            except DomainError as exc:
                messages.error(request, exc.message)
        if done:
            messages.success(request, _("已删除 %(n)s 个标签组") % {"n": done})


@admin.register(CustomerTag)
class CustomerTagAdmin(admin.ModelAdmin):
    list_display = ("customer", "tag", "source", "staff", "added_at", "synced_at")
    list_filter = ("source", ("synced_at", admin.EmptyFieldListFilter))
    raw_id_fields = ("customer", "tag", "staff")
    readonly_fields = ("added_at", "synced_at")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            services.customer_tags_push_on_commit(customer_id=obj.customer_id)

    def delete_model(self, request, obj):
        services.customer_tags_remove(rows=[obj])

    def delete_queryset(self, request, queryset):
        services.customer_tags_remove(rows=queryset.select_related("tag"))
