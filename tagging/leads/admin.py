"""Ops' pages of lead activation: the ranked dormant customers (masked, filterable by
tier and branch), the offers named in friend-request texts, and who got which lead."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.crypto import mask_name, mask_phone
from contacts.models import Branch
from scrm.core.workdays import SHANGHAI

from .models import LeadAssignment, LeadOffer, LeadRank, Tier
from .selectors import snapshot_page, week_key
from .services import leads_refresh

PAGE_SIZE = 50


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
        """The ranked outreach list as last computed (the morning run, or ops' refresh
        here by POST), names and phones masked, by tier and branch."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not request.user.has_perm("leads.change_leadrank"):
                raise PermissionDenied
            count = leads_refresh()
            self.message_user(request, _("名单已重新计算：%(n)d 位") % {"n": count})
            return redirect(request.get_full_path())
        tier = request.GET.get("tier")
        branch = request.GET.get("branch")
        tier_value = int(tier) if tier in {str(t.value) for t in Tier} else None
        branch_value = int(branch) if branch and branch.isdigit() else None
        ranks = snapshot_page(tier=tier_value, branch_id=branch_value)
        page = Paginator(ranks, PAGE_SIZE).get_page(request.GET.get("p"))
        week = week_key(timezone.now().astimezone(SHANGHAI).date())
        assigned = set(
            LeadAssignment.objects.filter(
                week=week, bank_record_id__in=[r.bank_record_id for r in page]
            ).values_list("bank_record_id", flat=True)
        )
        rows = []
        for rank in page:
            record = rank.bank_record
            rows.append(
                {
                    "rank": rank.position,
                    "tier": rank.tier,
                    "tier_label": rank.get_tier_display(),
                    "name": mask_name(record.name),
                    "phone": mask_phone(record.phone),
                    "customer_no": record.customer_no,
                    "branch": record.branch.name if record.branch else "-",
                    "aum": record.get_aum_bracket_display(),
                    "last_at": rank.last_at,
                    "assigned": record.pk in assigned,
                }
            )
        latest = LeadRank.objects.order_by("-computed_at").values_list("computed_at", flat=True)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("存量客户激活名单"),
            "rows": rows,
            "page": page,
            "total": page.paginator.count,
            "computed_at": latest.first(),
            "tiers": list(Tier),
            "branches": Branch.objects.order_by("code"),
            "tier": tier_value,
            "branch": branch_value,
        }
        return TemplateResponse(request, "admin/leads/ranking.html", context)
