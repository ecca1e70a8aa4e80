from django.contrib import admin

from .models import CustomerTag, Tag, TagGroup


class TagInline(admin.TabularInline):
    model = Tag
    extra = 0
    fields = ("name", "order", "wecom_id", "is_deleted")
    readonly_fields = ("wecom_id",)


@admin.register(TagGroup)
class TagGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "order", "wecom_id", "is_deleted")
    inlines = [TagInline]


@admin.register(CustomerTag)
class CustomerTagAdmin(admin.ModelAdmin):
    list_display = ("customer", "tag", "source", "added_at", "synced_at")
    list_filter = ("source",)
    raw_id_fields = ("customer", "tag", "staff")
