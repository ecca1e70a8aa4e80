from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from .bank import bank_records_import, bank_rows_preview, rows_from_file
from .crypto import mask_id_number, mask_phone
from .models import BankRecord, Branch, Customer, FollowRelation, TimelineEntry
from .privacy import (
    customer_erase,
    customer_marketing_opt_out,
    customer_masked_pii,
    customer_pii_reveal,
    customers_export_csv,
)
from .selectors import customers_visible_to


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "parent")
    search_fields = ("code", "name")


class FollowInline(admin.TabularInline):
    model = FollowRelation
    extra = 0
    raw_id_fields = ("staff",)
    fields = ("staff", "status", "remark", "add_way", "state", "added_at", "removed_at")
    readonly_fields = ("added_at", "removed_at")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Customers: who sees which comes from ``customers_visible_to`` (D14); phones masked."""

    list_display = (
        "name",
        "external_userid",
        "masked_phone",
        "ring",
        "status",
        "first_channel",
        "verified_at",
        "created_at",
    )
    list_filter = ("status", "ring", "first_channel", "marketing_opt_out")
    search_fields = ("external_userid", "name")
    inlines = [FollowInline]
    readonly_fields = (
        "first_channel",
        "first_state",
        "first_added_at",
        "verified_at",
        "verify_method",
        "bank_record",
        "masked_phone",
    )
    exclude = ("bank_record",)
    actions = ["export_csv", "erase_personal_data", "opt_out_marketing"]
    change_form_template = "admin/contacts/customer/change_form.html"

    def get_queryset(self, request):
        return (
            customers_visible_to(request.user)
            .select_related("first_channel", "bank_record")
            .prefetch_related("follows")
        )

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or customers_visible_to(request.user).filter(pk=obj.pk).exists()

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or customers_visible_to(request.user).filter(pk=obj.pk).exists()

    @admin.display(description=_("手机号"))
    def masked_phone(self, obj):
        return ", ".join(customer_masked_pii(obj)["phones"])

    def get_urls(self):
        return [
            path(
                "<int:pk>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="contacts_customer_reveal",
            ),
            *super().get_urls(),
        ]

    def reveal_view(self, request, pk: int):
        """POST only: shows the plain phones and ID number once, and audits it."""
        if request.method != "POST":
            return redirect(reverse("admin:contacts_customer_change", args=[pk]))
        try:
            revealed = customer_pii_reveal(user=request.user, customer_id=pk, request=request)
        except DomainError as exc:
            if exc.status == 404:
                raise Http404(exc.message) from exc
            raise PermissionDenied(exc.message) from exc
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "customer": Customer.objects.get(pk=pk),
            "revealed": revealed,
            "title": _("客户敏感信息"),
        }
        return TemplateResponse(request, "admin/contacts/customer/reveal.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_reveal": request.user.has_perm("contacts.reveal_pii"),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("导出所选客户（CSV，手机号脱敏）"))
    def export_csv(self, request, queryset):
        try:
            body = customers_export_csv(
                user=request.user,
                queryset=queryset,
                request=request,
                filters={"admin": request.GET.urlencode()},
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="customers.csv"'
        return response

    @admin.action(description=_("删除所选客户的个人信息（不可恢复）"))
    def erase_personal_data(self, request, queryset):
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                customer_erase(user=request.user, customer_id=pk, request=request, reason="admin")
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
            done += 1
        self.message_user(request, _("已删除 %(n)d 位客户的个人信息") % {"n": done})

    @admin.action(description=_("标记为拒收营销消息"))
    def opt_out_marketing(self, request, queryset):
        for customer in queryset:
            customer_marketing_opt_out(
                customer=customer, source="admin", actor=request.user, request=request
            )
        self.message_user(request, _("已标记为拒收营销消息"))


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "customer", "kind", "summary")
    list_filter = ("kind",)
    raw_id_fields = ("customer", "staff")

    def get_queryset(self, request):
        visible = customers_visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(customer__in=visible)


def _upload_dir() -> Path:
    path = Path(settings.VAR_DIR) / "bank-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@admin.register(BankRecord)
class BankRecordAdmin(admin.ModelAdmin):
    """The bank's customer file (D1, D4): upload, preview per-row errors, then import."""

    list_display = (
        "customer_no",
        "name",
        "masked_phone",
        "branch",
        "ring",
        "aum_bracket",
        "product_maturity",
        "updated_at",
    )
    list_filter = ("ring", "aum_bracket", "branch")
    search_fields = ("customer_no",)
    exclude = ("phone", "id_number", "phone_hash")
    readonly_fields = ("masked_phone", "masked_id_number", "imported_at", "updated_at")
    change_list_template = "admin/contacts/bankrecord/change_list.html"

    @admin.display(description=_("手机号"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone)

    @admin.display(description=_("证件号"))
    def masked_id_number(self, obj):
        return mask_id_number(obj.id_number)

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="contacts_bankrecord_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("导入行内客户"),
        }
        if request.method == "POST" and request.POST.get("confirm"):
            token = request.session.pop("bank_import_file", None)
            if not token or token["id"] != request.POST["confirm"]:
                self.message_user(request, _("请重新上传文件"), messages.ERROR)
                return redirect(reverse("admin:contacts_bankrecord_import"))
            stored = _upload_dir() / token["id"]
            try:
                rows = rows_from_file(name=token["name"], data=stored.read_bytes())
                result = bank_records_import(
                    rows=rows, actor=request.user, request=request, source=token["name"]
                )
            except (DomainError, FileNotFoundError) as exc:
                message = exc.message if isinstance(exc, DomainError) else _("请重新上传文件")
                self.message_user(request, message, messages.ERROR)
                return redirect(reverse("admin:contacts_bankrecord_import"))
            finally:
                stored.unlink(missing_ok=True)
            self.message_user(
                request,
                _("导入完成：新增 %(c)d，更新 %(u)d，错误 %(e)d，认证客户 %(m)d")
                % {
                    "c": result.created,
                    "u": result.updated,
                    "e": result.error_count,
                    "m": result.matched,
                },
            )
            return redirect(reverse("admin:contacts_bankrecord_changelist"))
        if request.method == "POST" and request.FILES.get("file"):
            upload = request.FILES["file"]
            data = upload.read()
            try:
                rows = rows_from_file(name=upload.name, data=data)
            except DomainError as exc:
                context["error"] = exc.message
                return TemplateResponse(request, "admin/contacts/bankrecord/import.html", context)
            preview = bank_rows_preview(rows=rows)
            file_id = uuid.uuid4().hex
            (_upload_dir() / file_id).write_bytes(data)
            request.session["bank_import_file"] = {"id": file_id, "name": upload.name}
            context.update(
                preview=preview,
                valid=preview.total - preview.error_count,
                file_id=file_id,
                file_name=upload.name,
            )
        return TemplateResponse(request, "admin/contacts/bankrecord/import.html", context)


# Channel codes and the staff directory have their own module.
from . import admin_channels  # noqa: E402, F401
