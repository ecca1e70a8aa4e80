"""Ops' pages of lead activation: the ranked dormant customers (masked, filterable by
tier and branch), the offers named in friend-request texts, and who got which lead."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.crypto import mask_phone
from contacts.models import BankRecord, Branch
from scrm.core.workdays import SHANGHAI

from .models import LeadAssignment, LeadOffer, Tier
from .selectors import leads_ranked, week_key
from .services import mask_name

PAGE_SIZE = 50
RANKING_LIMIT = 5000


@admin.register(LeadOffer)
class LeadOfferAdmin(admin.ModelAdmin):
    list_display = ("text", "branch", "valid_from", "valid_until", "is_active")
    list_filter = ("is_active", "branch")


@admin.register(LeadAssignment)
class LeadAssignmentAdmin(admin.ModelAdmin):
    list_display = ("day", "staff", "masked_name", "tier", "verify_text", "task_status")
    list_filter = ("day", "tier", "staff__branch")
    list_select_related = ("staff", "bank_record", "task")
    fields = ("day", "staff", "masked_name", "tier", "verify_text", "task_status")
    readonly_fields = fields
    change_list_template = "admin/leads/leadassignment/change_list.html"

    def has_add_permission(self, request):
        return False  # handed out by the daily run only

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("客户"))
    def masked_name(self, obj):
        record = obj.bank_record
        return f"{mask_name(record.name)} {mask_phone(record.phone)}".strip()

    @admin.display(description=_("任务状态"))
    def task_status(self, obj):
        return obj.task.get_status_display() if obj.task_id else "-"

    def get_urls(self):
        return [
            path(
                "ranking/",
                self.admin_site.admin_view(self.ranking_view),
                name="leads_leadassignment_ranking",
            ),
            *super().get_urls(),
        ]

    def ranking_view(self, request):
        """The ranked outreach list as the daily run sees it now (names and phones
        masked), by tier and branch."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        tier = request.GET.get("tier")
        branch = request.GET.get("branch")
        tier_value = int(tier) if tier in {str(t.value) for t in Tier} else None
        branch_value = int(branch) if branch and branch.isdigit() else None
        leads = leads_ranked(tier=tier_value, branch_id=branch_value, limit=RANKING_LIMIT)
        page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("p"))
        records = BankRecord.objects.select_related("branch").in_bulk(
            [lead.record_id for lead in page]
        )
        assigned = set()
        if page:
            week = week_key(timezone.now().astimezone(SHANGHAI).date())
            assigned = set(
                LeadAssignment.objects.filter(
                    week=week, bank_record_id__in=[lead.record_id for lead in page]
                ).values_list("bank_record_id", flat=True)
            )
        rows = []
        for rank, lead in enumerate(page, start=page.start_index()):
            record = records[lead.record_id]
            rows.append(
                {
                    "rank": rank,
                    "tier": lead.tier,
                    "tier_label": lead.tier_label,
                    "name": mask_name(record.name),
                    "phone": mask_phone(record.phone),
                    "customer_no": record.customer_no,
                    "branch": record.branch.name if record.branch else "-",
                    "aum": record.get_aum_bracket_display(),
                    "last_at": lead.last_at,
                    "assigned": lead.record_id in assigned,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("存量客户激活名单"),
            "rows": rows,
            "page": page,
            "total": len(leads),
            "limit": RANKING_LIMIT,
            "tiers": list(Tier),
            "branches": Branch.objects.order_by("code"),
            "tier": tier_value,
            "branch": branch_value,
        }
        return TemplateResponse(request, "admin/leads/ranking.html", context)
