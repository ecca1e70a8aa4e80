"""Campaigns, their A/B variants and coupon templates in the admin.

Ops draft a campaign, submit it, and run it (上线, 暂停, 恢复, 结束, 发送通知) with the
buttons on its page; compliance approve or reject from the review queue. The page
shows ops the funnel, stock, cost and the A/B variants side by side, and exports
the claims (audited).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from scrm.content.models import Content
from scrm.core.errors import DomainError

from ..models import Campaign, CampaignReviewQueue, CampaignVariant, CouponTemplate
from ..money import fen_display
from ..selectors import campaign_report, campaigns_with_counts, template_benefit
from ..services import announce, export, lifecycle
from .common import EditorForm, NoDeleteMixin, form_error, is_ops

ACTIONS = {
    "submit": lambda actor, pk, comment, request: lifecycle.campaign_submit(
        actor=actor, campaign_id=pk, request=request
    ),
    "approve": lambda actor, pk, comment, request: lifecycle.campaign_approve(
        actor=actor, campaign_id=pk, comment=comment, request=request
    ),
    "reject": lambda actor, pk, comment, request: lifecycle.campaign_reject(
        actor=actor, campaign_id=pk, comment=comment, request=request
    ),
    "go_live": lambda actor, pk, comment, request: lifecycle.campaign_go_live(
        actor=actor, campaign_id=pk, request=request
    ),
    "pause": lambda actor, pk, comment, request: lifecycle.campaign_pause(
        actor=actor, campaign_id=pk, comment=comment, request=request
    ),
    "resume": lambda actor, pk, comment, request: lifecycle.campaign_resume(
        actor=actor, campaign_id=pk, request=request
    ),
    "end": lambda actor, pk, comment, request: lifecycle.campaign_end(
        actor=actor, campaign_id=pk, comment=comment, request=request
    ),
}
# The admin page of a campaign kind above the core, by URL name (registered from that
# app's ``AppConfig.ready``): a lottery opens with its prize table.
KIND_CHANGE_VIEWS: dict[str, str] = {}

DONE = {
    "submit": gettext_lazy("已提交合规审核"),
    "approve": gettext_lazy("已审核通过"),
    "reject": gettext_lazy("已驳回，活动回到草稿"),
    "go_live": gettext_lazy("活动已上线"),
    "pause": gettext_lazy("活动已暂停"),
    "resume": gettext_lazy("活动已恢复"),
    "end": gettext_lazy("活动已结束"),
}


class CampaignForm(EditorForm):
    locked_message = gettext_lazy("只有运营人员可以修改草稿状态的活动；已提交的活动以审核为准")

    class Meta:
        model = Campaign
        fields = [*lifecycle.CAMPAIGN_FIELDS, *lifecycle.CAMPAIGN_M2M]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                data = {f: cleaned.get(f) for f in lifecycle.CAMPAIGN_FIELDS}
                lifecycle.campaign_validate(data)
            except DomainError as exc:
                form_error(self, exc)
        return cleaned


class VariantInline(admin.TabularInline):
    model = CampaignVariant
    extra = 0
    fields = ("key", "name", "weight", "template", "message")

    def _editable(self, request, obj) -> bool:
        return lifecycle.user_is_campaign_editor(request.user) and (
            obj is None or obj.status == Campaign.Status.DRAFT
        )

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_view_permission(self, request, obj=None):
        return True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "template":
            campaign_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = CouponTemplate.objects.filter(campaign_id=campaign_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Campaign)
class CampaignAdmin(NoDeleteMixin, admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    inlines = [VariantInline]
    list_display = (
        "name",
        "status",
        "starts_at",
        "ends_at",
        "stock_left_display",
        "claimed_display",
        "redeemed_display",
    )
    list_filter = ("status", "kind", "product_category", "verified_only")
    search_fields = ("name", "title")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("announcement", "audience_groups", "audience_pools", "audience_regions")
    fieldsets = (
        (None, {"fields": ("name", "kind", "title", "rules_text", "product_category")}),
        (gettext_lazy("时间与预算"), {"fields": ("starts_at", "ends_at", "budget_fen")}),
        (
            gettext_lazy("目标客户"),
            {"fields": ("verified_only", "audience_groups", "audience_pools", "audience_regions")},
        ),
        (
            gettext_lazy("限制与防刷"),
            {
                "fields": (
                    "per_customer_limit",
                    "velocity_ip_per_hour",
                    "velocity_phone_per_hour",
                    "reversal_window_minutes",
                )
            },
        ),
        (gettext_lazy("通知"), {"fields": ("announcement",)}),
    )

    # --- list ------------------------------------------------------------------

    def get_queryset(self, request):
        return campaigns_with_counts(super().get_queryset(request))

    @admin.display(description=gettext_lazy("剩余库存"), ordering="stock_left")
    def stock_left_display(self, obj):
        return obj.stock_left if obj.stock_left is not None else "—"

    @admin.display(description=gettext_lazy("已领"), ordering="n_claimed")
    def claimed_display(self, obj):
        return obj.n_claimed

    @admin.display(description=gettext_lazy("已核销"), ordering="n_redeemed")
    def redeemed_display(self, obj):
        return obj.n_redeemed

    # --- editing through the services -----------------------------------------------

    def has_add_permission(self, request):
        return lifecycle.user_is_campaign_editor(request.user) and super().has_add_permission(
            request
        )

    def _editable(self, request, obj) -> bool:
        return lifecycle.user_is_campaign_editor(request.user) and (
            obj is None or obj.status == Campaign.Status.DRAFT
        )

    def get_readonly_fields(self, request, obj=None):
        if self._editable(request, obj):
            return ()
        return (*lifecycle.CAMPAIGN_FIELDS, *lifecycle.CAMPAIGN_M2M)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user_may_edit = self._editable(request, obj)
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "announcement":
            kwargs["queryset"] = Content.objects.filter(approved_version__isnull=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.fields if f in form.cleaned_data}
        if change:
            lifecycle.campaign_update(actor=request.user, campaign_id=obj.pk, data=data)
        else:
            created = lifecycle.campaign_create(actor=request.user, data=data)
            obj.pk = created.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # The service set the many-to-many fields; the variants go through it too.
        for formset in formsets:
            self._save_variants(request, form.instance, formset)

    def _save_variants(self, request, campaign, formset) -> None:
        for inline_form in formset.forms:
            if not inline_form.has_changed() and inline_form not in formset.deleted_forms:
                continue
            variant = inline_form.instance
            try:
                if inline_form in formset.deleted_forms:
                    if variant.pk:
                        lifecycle.variant_delete(actor=request.user, variant_id=variant.pk)
                    continue
                data = {f: inline_form.cleaned_data.get(f) for f in lifecycle.VARIANT_FIELDS}
                lifecycle.variant_save(
                    actor=request.user,
                    campaign_id=campaign.pk,
                    data=data,
                    variant_id=variant.pk,
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)

    # --- the page: status actions, review, report, exports ----------------------------

    def get_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}"
        return [
            path(
                "<int:object_id>/act/",
                self.admin_site.admin_view(self.act_view),
                name=f"{name}_act",
            ),
            path(
                "<int:object_id>/export/<str:fmt>/",
                self.admin_site.admin_view(self.export_view),
                name=f"{name}_export",
            ),
            *super().get_urls(),
        ]

    def _change_url(self, object_id) -> str:
        return reverse("admin:campaigns_campaign_change", args=[object_id])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        campaign = self.get_object(request, object_id)
        kind_view = KIND_CHANGE_VIEWS.get(campaign.kind) if campaign is not None else None
        if kind_view and self.model in (Campaign, CampaignReviewQueue):
            return HttpResponseRedirect(reverse(kind_view, args=[campaign.pk]))
        if campaign is not None:
            editor = lifecycle.user_is_campaign_editor(request.user)
            reviewer = lifecycle.user_is_campaign_reviewer(request.user)
            status = campaign.status
            S = Campaign.Status
            buttons = []
            if editor:
                buttons = {
                    S.DRAFT: [("submit", _("提交合规审核"))],
                    S.APPROVED: [("go_live", _("上线")), ("end", _("结束"))],
                    S.LIVE: [("pause", _("暂停")), ("end", _("结束"))],
                    S.PAUSED: [("resume", _("恢复")), ("end", _("结束"))],
                }.get(status, [])
            editable = self._editable(request, campaign)
            extra.update(
                campaign=campaign,
                act_url=reverse("admin:campaigns_campaign_act", args=[campaign.pk]),
                buttons=buttons,
                can_review=reviewer and status == S.PENDING,
                can_announce=editor and status == S.LIVE and campaign.announcement_id is not None,
                status_changes=campaign.status_changes.select_related("actor").order_by("at", "pk"),
                templates=[
                    {"template": t, "benefit": template_benefit(t)}
                    for t in campaign.templates.order_by("pk")
                ],
                add_template_url=reverse("admin:campaigns_coupontemplate_add")
                + f"?campaign={campaign.pk}",
                show_report=is_ops(request.user),
                show_save=editable,
                show_save_and_continue=editable,
                show_save_and_add_another=False,
            )
            if is_ops(request.user):
                report = campaign_report(campaign)
                extra.update(
                    report=report,
                    money={
                        "budget": fen_display(campaign.budget_fen)
                        if campaign.budget_fen is not None
                        else "",
                        "committed": fen_display(campaign.budget_committed_fen),
                        "cost": fen_display(report.cost_fen),
                        "per_claimed": fen_display(report.cost_per_claimed_fen)
                        if report.cost_per_claimed_fen is not None
                        else "—",
                        "per_redeemed": fen_display(report.cost_per_redeemed_fen)
                        if report.cost_per_redeemed_fen is not None
                        else "—",
                    },
                    variant_rows=[
                        {
                            "row": row,
                            "rate": f"{row.claim_rate:.1%}" if row.claim_rate is not None else "—",
                            "cost": fen_display(row.cost_fen),
                        }
                        for row in report.variants
                    ],
                    export_csv_url=reverse(
                        "admin:campaigns_campaign_export", args=[campaign.pk, "csv"]
                    ),
                    export_xlsx_url=reverse(
                        "admin:campaigns_campaign_export", args=[campaign.pk, "xlsx"]
                    ),
                )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def act_view(self, request, object_id: int):
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(object_id))
        campaign = get_object_or_404(Campaign, pk=object_id)
        action = request.POST.get("action", "")
        comment = request.POST.get("comment", "")
        try:
            if action == "announce":
                count = announce.campaign_announce(actor=request.user, campaign_id=campaign.pk)
                self.message_user(request, _("已为 %(n)s 位客户准备活动通知") % {"n": count})
            elif action in ACTIONS:
                ACTIONS[action](request.user, campaign.pk, comment, request)
                self.message_user(request, DONE[action])
            else:
                self.message_user(request, _("未知操作"), messages.ERROR)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        if action in ("approve", "reject"):
            return HttpResponseRedirect(reverse("admin:campaigns_campaignreviewqueue_changelist"))
        return HttpResponseRedirect(self._change_url(object_id))

    def export_view(self, request, object_id: int, fmt: str):
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(object_id))
        if not is_ops(request.user):
            raise PermissionDenied
        try:
            name, content = export.campaign_claims_export(
                actor=request.user, campaign_id=object_id, fmt=fmt, request=request
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(object_id))
        kind = (
            "text/csv; charset=utf-8"
            if fmt == "csv"
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response = HttpResponse(content, content_type=kind)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


@admin.register(CampaignReviewQueue)
class CampaignReviewQueueAdmin(CampaignAdmin):
    """Compliance's inbox: campaigns waiting for a decision, oldest first."""

    list_display = ("name", "title", "starts_at", "ends_at", "updated_at")
    list_filter = ()
    date_hierarchy = None

    def get_queryset(self, request):
        return campaigns_with_counts(
            Campaign.objects.filter(status=Campaign.Status.PENDING)
        ).order_by("updated_at", "pk")

    def has_add_permission(self, request):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # One page for a campaign, wherever it is opened from.
        return HttpResponseRedirect(self._change_url(object_id))


class CouponTemplateForm(EditorForm):
    locked_message = gettext_lazy("只有草稿状态活动的优惠券模板可以修改")

    class Meta:
        model = CouponTemplate
        fields = ["campaign", *lifecycle.TEMPLATE_FIELDS, *lifecycle.TEMPLATE_M2M]
        widgets = {"description": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                lifecycle.template_validate({f: cleaned.get(f) for f in lifecycle.TEMPLATE_FIELDS})
            except DomainError as exc:
                form_error(self, exc)
        return cleaned


@admin.register(CouponTemplate)
class CouponTemplateAdmin(NoDeleteMixin, admin.ModelAdmin):
    form = CouponTemplateForm
    list_display = ("title", "campaign", "kind", "benefit", "stock", "daily_stock")
    list_filter = ("kind", "campaign__status")
    search_fields = ("title", "campaign__name")
    list_select_related = ("campaign",)
    autocomplete_fields = ("merchants", "regions")
    fieldsets = (
        (None, {"fields": ("campaign", "title", "description", "kind")}),
        (
            gettext_lazy("面值与门槛（单位：分）"),
            {
                "fields": (
                    "percent_off",
                    "face_value_fen",
                    "max_discount_fen",
                    "min_spend_fen",
                    "instalments",
                    "instalment_interval_days",
                )
            },
        ),
        (
            gettext_lazy("适用范围与时段"),
            {
                "fields": (
                    "merchants",
                    "regions",
                    "valid_weekdays",
                    "valid_time_from",
                    "valid_time_until",
                )
            },
        ),
        (
            gettext_lazy("有效期"),
            {"fields": ("validity", "valid_from_date", "valid_until_date", "valid_days")},
        ),
        (
            gettext_lazy("库存与限领"),
            {"fields": ("total_stock", "daily_stock", "per_customer_limit", "per_phone_limit")},
        ),
    )

    @admin.display(description=gettext_lazy("优惠"))
    def benefit(self, obj):
        return template_benefit(obj)

    @admin.display(description=gettext_lazy("剩余/总库存"))
    def stock(self, obj):
        return f"{obj.stock_remaining}/{obj.total_stock}"

    def _editable(self, request, obj) -> bool:
        return lifecycle.user_is_campaign_editor(request.user) and (
            obj is None or obj.campaign.status == Campaign.Status.DRAFT
        )

    def has_add_permission(self, request):
        return lifecycle.user_is_campaign_editor(request.user) and super().has_add_permission(
            request
        )

    def get_readonly_fields(self, request, obj=None):
        if not self._editable(request, obj):
            return ("campaign", *lifecycle.TEMPLATE_FIELDS, *lifecycle.TEMPLATE_M2M)
        return ("campaign",) if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user_may_edit = self._editable(request, obj)
        return form

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("validity", CouponTemplate.Validity.RELATIVE)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "campaign":
            kwargs["queryset"] = Campaign.objects.filter(status=Campaign.Status.DRAFT)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        template = self.get_object(request, object_id)
        editable = template is not None and self._editable(request, template)
        extra = dict(
            extra_context or {},
            show_save=editable,
            show_save_and_continue=editable,
            show_save_and_add_another=False,
        )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.fields if f in form.cleaned_data}
        if change:
            lifecycle.template_update(actor=request.user, template_id=obj.pk, data=data)
        else:
            created = lifecycle.template_create(
                actor=request.user, campaign_id=data["campaign"].pk, data=data
            )
            obj.pk = created.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # the service set the merchants and regions

    def response_add(self, request, obj, post_url_continue=None):
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return HttpResponseRedirect(
                reverse("admin:campaigns_campaign_change", args=[obj.campaign_id])
            )
        return super().response_add(request, obj, post_url_continue)
