"""Lottery campaigns in the admin: the campaign with its draw settings and prize table
inline, run with the campaign core's buttons (submit, approve, live, pause, end); the
report (participants, winners per prize, budget used against its cap, cost per member);
the draws with filters and each draw's replay.

Who sees what follows the roles, not model permissions: ops edit and run lotteries and
see draws; compliance reviewers see a lottery (its prize names are customer-facing
texts they approve) but never customers' draws (D14). Every write goes through the
services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.campaign import KIND_CHANGE_VIEWS, CampaignAdmin, CampaignForm
from campaigns.admin.common import ReadOnlyMixin, form_error, is_ops
from campaigns.models import Campaign, CouponTemplate
from campaigns.money import fen_display
from campaigns.services import lifecycle
from scrm.core.errors import DomainError

from .models import Draw, Lottery, LotteryCampaign, Prize
from .selectors import lottery_report, prize_benefit
from .services import prizes as prize_services
from .services.draw import draw_replay
from .services.gifts import gift_hand_over

# A lottery opened from the campaigns list or compliance's review queue opens here.
KIND_CHANGE_VIEWS[Campaign.Kind.LOTTERY] = "admin:lottery_lotterycampaign_change"


def _reviewer(user) -> bool:
    return bool(user.is_active and lifecycle.user_is_campaign_reviewer(user))


def _editable(request, campaign: Campaign | None) -> bool:
    return lifecycle.user_is_campaign_editor(request.user) and (
        campaign is None or campaign.status == Campaign.Status.DRAFT
    )


def _fen(value: int | None) -> str:
    return "—" if value is None else fen_display(value)


class _DraftInline:
    def has_add_permission(self, request, obj=None):
        return _editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return _editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _editable(request, obj) and self.model is Prize

    def has_view_permission(self, request, obj=None):
        return is_ops(request.user) or _reviewer(request.user)


class LotterySettingsInline(_DraftInline, admin.StackedInline):
    model = Lottery
    fk_name = "campaign"
    min_num = 1
    max_num = 1
    can_delete = False
    fields = ("everyone_wins", "draws_per_customer", "draws_per_day")
    verbose_name_plural = gettext_lazy("抽奖规则")


class PrizeForm(forms.ModelForm):
    class Meta:
        model = Prize
        fields = prize_services.PRIZE_FIELDS

    def clean(self):
        cleaned = super().clean()
        campaign_id = getattr(self.instance, "campaign_id", None) or 0
        if not self.errors and not cleaned.get("DELETE"):
            try:
                data = {f: cleaned.get(f) for f in prize_services.PRIZE_FIELDS}
                prize_services.prize_validate(data, campaign_id=campaign_id)
            except DomainError as exc:
                form_error(self, exc)
        return cleaned


class PrizeInline(_DraftInline, admin.TabularInline):
    model = Prize
    form = PrizeForm
    extra = 0
    fields = (*prize_services.PRIZE_FIELDS, "stock_display", "cost_display")
    readonly_fields = ("stock_display", "cost_display")
    ordering = ("position", "pk")

    @admin.display(description=gettext_lazy("剩余/总库存"))
    def stock_display(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return "∞" if obj.total_stock is None else f"{obj.stock_remaining}/{obj.total_stock}"

    @admin.display(description=gettext_lazy("单次成本（元）"))
    def cost_display(self, obj):
        return fen_display(obj.cost_fen) if obj is not None and obj.pk else "—"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "coupon_template":
            campaign_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = CouponTemplate.objects.filter(campaign_id=campaign_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class LotteryCampaignForm(CampaignForm):
    class Meta(CampaignForm.Meta):
        model = LotteryCampaign
        fields = [f for f in CampaignForm.Meta.fields if f != "kind"]


@admin.register(LotteryCampaign)
class LotteryCampaignAdmin(CampaignAdmin):
    form = LotteryCampaignForm
    change_form_template = "admin/lottery/lotterycampaign/change_form.html"
    inlines = [LotterySettingsInline, PrizeInline]
    list_display = ("name", "status", "starts_at", "ends_at", "budget_display", "draws_display")
    list_filter = ("status", "verified_only")
    fieldsets = (
        (None, {"fields": ("name", "title", "rules_text", "product_category")}),
        (gettext_lazy("时间与预算"), {"fields": ("starts_at", "ends_at", "budget_fen")}),
        (
            gettext_lazy("目标客户"),
            {"fields": ("verified_only", "audience_groups", "audience_pools", "audience_regions")},
        ),
        (
            gettext_lazy("防刷"),
            {"fields": ("velocity_ip_per_hour", "velocity_phone_per_hour")},
        ),
        (gettext_lazy("通知"), {"fields": ("announcement",)}),
    )

    # --- who sees what: by role --------------------------------------------------------

    def has_module_permission(self, request):
        return is_ops(request.user) or _reviewer(request.user)

    def has_view_permission(self, request, obj=None):
        return is_ops(request.user) or _reviewer(request.user)

    def has_add_permission(self, request):
        return lifecycle.user_is_campaign_editor(request.user)

    def has_change_permission(self, request, obj=None):
        # Reviewers open the page to approve; the form itself is read-only unless a draft.
        return is_ops(request.user) or _reviewer(request.user)

    # --- list ----------------------------------------------------------------------------

    def get_queryset(self, request):
        return LotteryCampaign.objects.filter(kind=Campaign.Kind.LOTTERY).annotate(
            n_draws=Count("draws")
        )

    @admin.display(description=gettext_lazy("预算 / 已用（元）"))
    def budget_display(self, obj):
        return f"{_fen(obj.budget_fen)} / {fen_display(obj.budget_committed_fen)}"

    @admin.display(description=gettext_lazy("抽奖次数"), ordering="n_draws")
    def draws_display(self, obj):
        return obj.n_draws

    # --- writes through the services ----------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        fields = [f for f in lifecycle.CAMPAIGN_FIELDS if f != "kind"]
        return () if self._editable(request, obj) else (*fields, *lifecycle.CAMPAIGN_M2M)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.fields if f in form.cleaned_data}
        if change:
            lifecycle.campaign_update(actor=request.user, campaign_id=obj.pk, data=data)
        else:
            created = prize_services.lottery_create(actor=request.user, data=data)
            obj.pk = created.pk
            obj._state.adding = False
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        campaign = form.instance
        for formset in formsets:
            # The services saved the rows; the admin's change message reads these.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            if formset.model is Lottery:
                for inline_form in formset.forms:
                    if inline_form.has_changed() or not change:
                        self._service(
                            request,
                            prize_services.lottery_settings_save,
                            campaign_id=campaign.pk,
                            data={
                                f: inline_form.cleaned_data.get(f)
                                for f in prize_services.LOTTERY_FIELDS
                            },
                        )
            elif formset.model is Prize:
                self._save_prizes(request, campaign, formset)

    def _service(self, request, function, **kwargs) -> None:
        try:
            function(actor=request.user, **kwargs)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def _save_prizes(self, request, campaign, formset) -> None:
        for inline_form in formset.forms:
            prize = inline_form.instance
            if inline_form in formset.deleted_forms:
                if prize.pk:
                    self._service(request, prize_services.prize_delete, prize_id=prize.pk)
                continue
            if not inline_form.has_changed():
                continue
            data = {f: inline_form.cleaned_data.get(f) for f in prize_services.PRIZE_FIELDS}
            self._service(
                request,
                prize_services.prize_save,
                campaign_id=campaign.pk,
                data=data,
                prize_id=prize.pk,
            )

    # --- the page, the report ------------------------------------------------------------

    def get_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}"
        return [
            path(
                "<int:object_id>/report/",
                self.admin_site.admin_view(self.report_view),
                name=f"{name}_report",
            ),
            *super().get_urls(),
        ]

    def _change_url(self, object_id) -> str:
        return reverse("admin:lottery_lotterycampaign_change", args=[object_id])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None and context.get("campaign") is not None:
            campaign = context["campaign"]
            context.update(
                act_url=reverse("admin:lottery_lotterycampaign_act", args=[campaign.pk]),
                report_url=reverse("admin:lottery_lotterycampaign_report", args=[campaign.pk]),
                draws_url=reverse("admin:lottery_draw_changelist")
                + f"?campaign__id__exact={campaign.pk}",
                prizes_shown=[
                    {"prize": p, "benefit": prize_benefit(p)}
                    for p in Prize.objects.filter(campaign=campaign)
                    .select_related("coupon_template")
                    .order_by("position", "pk")
                ],
                budget_text=_fen(campaign.budget_fen),
            )
        return response

    def report_view(self, request, object_id: int):
        if not is_ops(request.user):
            raise PermissionDenied
        campaign = get_object_or_404(LotteryCampaign, pk=object_id, kind=Campaign.Kind.LOTTERY)
        report = lottery_report(campaign)
        ratio = report.budget_used_ratio
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("抽奖报表：%(name)s") % {"name": campaign.name},
            "campaign": campaign,
            "report": report,
            "rows": [
                {
                    "row": row,
                    "benefit": prize_benefit(row.prize),
                    "cost": fen_display(row.cost_fen),
                    "share": f"{row.draws / report.draws:.1%}" if report.draws else "—",
                }
                for row in report.prizes
            ],
            "money": {
                "budget": _fen(report.budget_fen),
                "used": fen_display(report.committed_fen),
                "left": _fen(report.budget_left_fen),
                "ratio": f"{ratio:.1%}" if ratio is not None else "—",
                "paid": fen_display(report.paid_fen),
                "per_member": _fen(report.cost_per_member_fen),
                "paid_per_member": _fen(report.paid_per_member_fen),
            },
            "change_url": self._change_url(campaign.pk),
            "draws_url": reverse("admin:lottery_draw_changelist")
            + f"?campaign__id__exact={campaign.pk}",
        }
        return TemplateResponse(request, "admin/lottery/lotterycampaign/report.html", context)


class _DrawCampaignFilter(admin.SimpleListFilter):
    title = gettext_lazy("活动")
    parameter_name = "campaign__id__exact"

    def lookups(self, request, model_admin):
        return [
            (c.pk, c.name)
            for c in Campaign.objects.filter(kind=Campaign.Kind.LOTTERY).order_by("-starts_at")
        ]

    def queryset(self, request, queryset):
        return queryset.filter(campaign_id=self.value()) if self.value() else queryset


@admin.register(Draw)
class DrawAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Customers' draws: ops only (D14). Each draw's page shows its replay."""

    list_display = (
        "drawn_at",
        "campaign",
        "customer",
        "prize",
        "won",
        "cost",
        "attempt",
        "gift_handed_over_at",
    )
    list_filter = (
        _DrawCampaignFilter,
        "won",
        "prize__kind",
        "prize",
        "day",
        ("gift_handed_over_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("customer__external_userid", "customer__name", "=id")
    list_select_related = ("campaign", "customer", "prize")
    date_hierarchy = "drawn_at"
    exclude = ("ip",)
    readonly_fields = ("replay_display",)
    actions = ["hand_over_gifts"]

    def has_module_permission(self, request):
        return is_ops(request.user)

    def has_view_permission(self, request, obj=None):
        return is_ops(request.user)

    @admin.display(description=gettext_lazy("占用预算（元）"), ordering="cost_fen")
    def cost(self, obj):
        return fen_display(obj.cost_fen)

    @admin.display(description=gettext_lazy("抽取次数"))
    def attempt(self, obj):
        return (obj.inputs or {}).get("attempt", 1)

    @admin.display(description=gettext_lazy("复核"))
    def replay_display(self, obj):
        replay = draw_replay(draw_id=obj.pk)
        if replay.matches:
            return _("按记录的库存、预算与随机数 %(roll)s（共 %(total)s）重算，结果一致") % {
                "roll": replay.roll,
                "total": replay.total_weight,
            }
        return _("重算结果与记录不一致（重算奖品 %(p)s）") % {"p": replay.replayed_prize_id}

    def changelist_view(self, request, extra_context=None):
        if not is_ops(request.user):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    @admin.action(description=gettext_lazy("登记所选礼品已交付客户"))
    def hand_over_gifts(self, request, queryset):
        done = 0
        for draw_id in queryset.filter(prize__kind=Prize.Kind.GIFT).values_list("pk", flat=True):
            try:
                gift_hand_over(actor=request.user, draw_id=draw_id, request=request)
                done += 1
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, _("已登记 %(n)s 份礼品交付") % {"n": done})
