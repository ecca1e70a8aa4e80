from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from .bank import bank_rows_preview, rows_from_file
from .bank_jobs import (
    IMPORT_PERMISSION,
    bank_import_file_store,
    bank_import_job_create,
    bank_import_job_error_report,
    bank_import_job_get,
    bank_import_job_retry,
    bank_import_jobs_visible_to,
)
from .crypto import mask_id_number, mask_phone
from .models import BankImportJob, BankRecord, Branch, Customer, FollowRelation, TimelineEntry
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


@admin.register(BankRecord)
class BankRecordAdmin(admin.ModelAdmin):
    """The bank's customer file (D1, D4): upload, preview per-row errors, then confirm,
    which queues an import job (``BankImportJobAdmin`` shows its progress)."""

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
            try:
                job = bank_import_job_create(
                    actor=request.user,
                    file_name=token["name"],
                    stored_file=token["id"],
                    total=token.get("total"),
                    source="admin",
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return redirect(reverse("admin:contacts_bankrecord_import"))
            self.message_user(request, _("已提交导入任务，正在后台导入"))
            return redirect(reverse("admin:contacts_bankimportjob_change", args=[job.pk]))
        if request.method == "POST" and request.FILES.get("file"):
            upload = request.FILES["file"]
            data = upload.read()
            try:
                rows = rows_from_file(name=upload.name, data=data)
            except DomainError as exc:
                context["error"] = exc.message
                return TemplateResponse(request, "admin/contacts/bankrecord/import.html", context)
            preview = bank_rows_preview(rows=rows)
            file_id = bank_import_file_store(data=data)
            request.session["bank_import_file"] = {
                "id": file_id,
                "name": upload.name,
                "total": preview.total,
            }
            context.update(
                preview=preview,
                valid=preview.total - preview.error_count,
                file_id=file_id,
                file_name=upload.name,
            )
        return TemplateResponse(request, "admin/contacts/bankrecord/import.html", context)


@admin.register(BankImportJob)
class BankImportJobAdmin(admin.ModelAdmin):
    """Bank-file import jobs: progress, counts, the rows in error and their full report.

    Seen by people who may import bank records, and by whoever uploaded the job. Jobs
    are written only by the import itself; a failed one can be queued again."""

    list_display = (
        "id",
        "file_name",
        "status",
        "processed",
        "total",
        "created_count",
        "updated_count",
        "error_count",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_display_links = ("id", "file_name")
    list_filter = ("status",)
    search_fields = ("file_name",)
    actions = ["retry_jobs"]

    def get_queryset(self, request):
        return bank_import_jobs_visible_to(request.user)

    def _may_see(self, request, obj=None) -> bool:
        user = request.user
        if user.has_perm(IMPORT_PERMISSION):
            return True
        if obj is None:
            return bank_import_jobs_visible_to(user).exists()
        return obj.created_by_id == user.pk

    def has_module_permission(self, request):
        return self._may_see(request)

    def has_view_permission(self, request, obj=None):
        return self._may_see(request, obj)

    def has_add_permission(self, request):
        return False  # a job comes from an upload (the bank records' import page)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/errors.csv",
                self.admin_site.admin_view(self.error_report_view),
                name="contacts_bankimportjob_errors",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The job page: a progress bar that reloads itself while the job runs."""
        try:
            job = bank_import_job_get(user=request.user, job_id=int(object_id))
        except (DomainError, ValueError) as exc:
            if isinstance(exc, DomainError) and exc.status == 403:
                raise PermissionDenied(exc.message) from exc
            raise Http404 from exc
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("导入任务 #%(id)d") % {"id": job.pk},
            "job": job,
            "refresh_s": 2 if job.is_active else None,
            "can_retry": job.status == BankImportJob.Status.FAILED
            and request.user.has_perm(IMPORT_PERMISSION),
        }
        return TemplateResponse(request, "admin/contacts/bankrecord/job.html", context)

    def error_report_view(self, request, pk: int):
        """The full per-row error report (CSV); audited as an export."""
        try:
            path_, name = bank_import_job_error_report(
                user=request.user, job_id=pk, request=request
            )
        except DomainError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message) from exc
            raise Http404(exc.message) from exc
        return FileResponse(
            path_.open("rb"),
            as_attachment=True,
            filename=name,
            content_type="text/csv; charset=utf-8",
        )

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm(IMPORT_PERMISSION)

    @admin.action(description=_("重新导入所选的失败任务"), permissions=["import"])
    def retry_jobs(self, request, queryset):
        done = 0
        for pk in queryset.filter(status=BankImportJob.Status.FAILED).values_list("pk", flat=True):
            try:
                bank_import_job_retry(actor=request.user, job_id=pk)
            except DomainError as exc:
                self.message_user(request, f"#{pk}: {exc.message}", messages.ERROR)
                continue
            done += 1
        self.message_user(request, _("已重新提交 %(n)d 个导入任务") % {"n": done})


# Channel codes and the staff directory have their own module.
from . import admin_channels  # noqa: E402, F401
