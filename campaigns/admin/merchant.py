"""Merchants, their stores, store-staff logins and API keys (ops only).

A new key is shown once, on the page that answers the "生成新密钥" button; it is
never stored or shown again. Keys are revoked, never deleted.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from scrm.core.errors import DomainError

from ..models import Merchant, MerchantKey, MerchantStaff, Store
from ..services import merchants
from .common import NoDeleteMixin, OpsOnlyMixin


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0
    fields = ("code", "name", "region", "address", "is_active")
    autocomplete_fields = ("region",)

    def has_delete_permission(self, request, obj=None):
        return False


class MerchantStaffInline(admin.TabularInline):
    model = MerchantStaff
    extra = 0
    fields = ("user", "store")
    autocomplete_fields = ("user",)


class MerchantKeyInline(admin.TabularInline):
    model = MerchantKey
    extra = 0
    fields = ("name", "shown_as", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    can_delete = False

    @admin.display(description=gettext_lazy("密钥"))
    def shown_as(self, obj):
        return str(obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Merchant)
class MerchantAdmin(OpsOnlyMixin, NoDeleteMixin, admin.ModelAdmin):
    change_form_template = "admin/campaigns/merchant/change_form.html"
    list_display = ("name", "region", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    autocomplete_fields = ("region",)
    fields = ("name", "region", "is_active")
    inlines = [StoreInline, MerchantStaffInline, MerchantKeyInline]

    def save_model(self, request, obj, form, change):
        saved = merchants.merchant_save(
            actor=request.user,
            data={f: form.cleaned_data[f] for f in self.fields},
            merchant_id=obj.pk if change else None,
        )
        obj.pk = saved.pk
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        merchant = form.instance
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            try:
                if formset.model is Store:
                    merchants.store_save(
                        actor=request.user,
                        merchant_id=merchant.pk,
                        data={f: data.get(f) for f in StoreInline.fields},
                        store_id=inline_form.instance.pk,
                    )
                elif formset.model is MerchantStaff:
                    if inline_form in formset.deleted_forms:
                        if inline_form.instance.pk:
                            merchants.merchant_staff_remove(
                                actor=request.user, staff_id=inline_form.instance.pk
                            )
                        continue
                    store = data.get("store")
                    merchants.merchant_staff_save(
                        actor=request.user,
                        user=data["user"],
                        merchant_id=merchant.pk,
                        store_id=store.pk if store else None,
                    )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/keys/new/",
                self.admin_site.admin_view(self.key_create_view),
                name="campaigns_merchant_key_create",
            ),
            path(
                "<int:object_id>/keys/<int:key_id>/revoke/",
                self.admin_site.admin_view(self.key_revoke_view),
                name="campaigns_merchant_key_revoke",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        merchant = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if merchant is not None:
            extra.update(
                key_create_url=reverse("admin:campaigns_merchant_key_create", args=[merchant.pk]),
                active_keys=[
                    (
                        key,
                        reverse("admin:campaigns_merchant_key_revoke", args=[merchant.pk, key.pk]),
                    )
                    for key in merchant.keys.filter(revoked_at__isnull=True)
                ],
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _back(self, object_id):
        return HttpResponseRedirect(reverse("admin:campaigns_merchant_change", args=[object_id]))

    def key_create_view(self, request, object_id: int):
        merchant = get_object_or_404(Merchant, pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, merchant):
            return self._back(object_id)
        try:
            key, raw = merchants.merchant_key_create(
                actor=request.user,
                merchant_id=merchant.pk,
                name=request.POST.get("name", ""),
                request=request,
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return self._back(object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": _("新的商户密钥"),
            "merchant": merchant,
            "key": key,
            "raw_key": raw,
            "opts": self.model._meta,
            "back_url": reverse("admin:campaigns_merchant_change", args=[merchant.pk]),
        }
        response = TemplateResponse(request, "admin/campaigns/merchant/key_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def key_revoke_view(self, request, object_id: int, key_id: int):
        key = get_object_or_404(MerchantKey, pk=key_id, merchant_id=object_id)
        if request.method == "POST" and self.has_change_permission(request, key.merchant):
            try:
                merchants.merchant_key_revoke(actor=request.user, key_id=key.pk, request=request)
                self.message_user(request, _("密钥 %(k)s 已吊销") % {"k": str(key)})
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        return self._back(object_id)
