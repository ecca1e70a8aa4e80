"""Admin for corp tags: every save and delete goes through the services, and to WeCom (D9).

A group and its tags are validated by ``tag_group_validate`` before anything is
saved (its refusals show on the form), saved by ``tag_group_save``, and pushed to
WeCom by ``tag_group_push`` once the admin's transaction has committed.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from . import services
from .models import CustomerTag, Tag, TagGroup


class TagInlineFormSet(BaseInlineFormSet):
    """The group's tags; the service checks them with the group before anything is saved."""

    def tag_drafts(self) -> list[tuple[object, services.TagDraft]]:
        """(form, draft) for every tag ops added, changed, kept or deleted."""
        drafts = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            delete = self.can_delete and self._should_delete_form(form)
            if form.instance.pk is None and (delete or not form.has_changed()):
                continue  # an empty extra row, or a new row deleted at once
            draft = services.TagDraft(
                name=data.get("name") or form.instance.name,
                order=data.get("order") if data.get("order") is not None else form.instance.order,
                tag_id=form.instance.pk,
                delete=delete,
            )
            drafts.append((form, draft))
        return drafts

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        pairs = self.tag_drafts()
        try:
            services.tag_group_validate(group=self.instance, tags=[d for _f, d in pairs])
        except DomainError as exc:
            index = exc.data.get("tag_index")
            if index is None:
                raise ValidationError(exc.message, code=exc.code) from exc
            pairs[index][0].add_error("name", exc.message)


class TagInline(admin.TabularInline):
    model = Tag
    formset = TagInlineFormSet
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

    def save_model(self, request, obj, form, change):
        """Nothing yet: the group is saved with its tags by ``tag_group_save`` below."""

    def save_related(self, request, form, formsets, change):
        drafts: list[services.TagDraft] = []
        for formset in formsets:
            if formset.model is Tag:
                formset.save(commit=False)  # only fills what the change message lists
                drafts = [draft for _form, draft in formset.tag_drafts()]
        group = services.tag_group_save(group=form.instance, tags=drafts)
        form.save_m2m()
        # The admin's transaction holds the group's row until the view returns:
        # WeCom is called once it has committed.
        transaction.on_commit(lambda: self._push(request, group.pk))

    def _push(self, request, group_id: int) -> None:
        try:
            services.tag_group_push(group_id=group_id)
        except DomainError as exc:
            messages.error(request, _("已在本地保存，") + str(exc.message))
        else:
            messages.info(request, _("已同步到企业微信"))

    def delete_model(self, request, obj: TagGroup) -> None:
        group_id = obj.pk
        transaction.on_commit(lambda: self._delete(request, group_id))

    def _delete(self, request, group_id: int) -> None:
        try:
            services.tag_group_delete(group_id=group_id)
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


class CustomerTagForm(forms.ModelForm):
    class Meta:
        model = CustomerTag
        fields = ("customer", "tag", "source", "staff")

    def clean_tag(self):
        tag = self.cleaned_data.get("tag")
        if tag is not None and tag.is_deleted:
            raise forms.ValidationError(_("标签已删除"))
        return tag


@admin.register(CustomerTag)
class CustomerTagAdmin(admin.ModelAdmin):
    form = CustomerTagForm
    list_display = ("customer", "tag", "source", "staff", "added_at", "synced_at")
    list_filter = ("source", ("synced_at", admin.EmptyFieldListFilter))
    raw_id_fields = ("customer", "tag", "staff")
    readonly_fields = ("added_at", "synced_at")

    def get_readonly_fields(self, request, obj=None):
        # A tag on a customer is added or removed, never rewritten.
        if obj is not None:
            return ("customer", "tag", "source", "staff", "added_at", "synced_at")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        row, _created = services.customer_tag_add(
            customer=obj.customer, tag=obj.tag, source=obj.source, staff=obj.staff
        )
        obj.pk = row.pk

    def delete_model(self, request, obj):
        services.customer_tags_remove(rows=[obj])

    def delete_queryset(self, request, queryset):
        services.customer_tags_remove(rows=queryset.select_related("tag"))
