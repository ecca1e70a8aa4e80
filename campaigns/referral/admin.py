"""Referral in the admin: a referral campaign's settings with its tiers inline, the
invitations (the chain, with filters), the rewards, and the key-spreader report that
tags the top spreaders and refreshes their segment. Ops only (D14); writes go through
the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.common import OpsOnlyMixin, ReadOnlyMixin, is_ops
from campaigns.models import Campaign, CouponTemplate
from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from .links import invite_url
from .models import (
    Conversion,
    Invitation,
    InviteCode,
    ReferralProgram,
    ReferralReward,
    ReferralTier,
    Segment,
    SegmentMember,
)
from .selectors import (
    invitations_for_admin,
    programs_with_figures,
    rewards_for_admin,
    tier_reward_text,
)
from .services import gift_fulfil, program_save, program_validate
from .spreaders import ORDERS, key_spreaders_refresh, spreaders_rank


def _editable(request, program: ReferralProgram | None) -> bool:
    if not is_ops(request.user):
        return False
    return program is None or program.campaign.status == Campaign.Status.DRAFT


class TierFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors) or not hasattr(self.instance, "campaign"):
            return
        tiers = [
            f.instance
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE", False)
        ]
        try:
            program_validate(program=self.instance, tiers=tiers)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


class TierInline(admin.TabularInline):
    model = ReferralTier
    formset = TierFormSet
    extra = 1
    fields = ("threshold", "kind", "coupon_template", "amount_fen", "gift_name")

    def has_add_permission(self, request, obj=None):
        return _editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return _editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _editable(request, obj)

    def has_view_permission(self, request, obj=None):
        return is_ops(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "coupon_template":
            object_id = request.resolver_match.kwargs.get("object_id")
            program = ReferralProgram.objects.filter(pk=object_id or 0).first()
            kwargs["queryset"] = CouponTemplate.objects.filter(
                campaign_id=program.campaign_id if program else 0
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ReferralProgram)
class ReferralProgramAdmin(OpsOnlyMixin, admin.ModelAdmin):
    inlines = [TierInline]
    list_display = (
        "campaign",
        "status",
        "goal",
        "tiers_display",
        "inviters",
        "invites",
        "refused",
        "lapsed",
        "rewards",
    )
    list_filter = ("goal", "campaign__status")
    search_fields = ("campaign__name", "campaign__title")
    fields = ("campaign", "goal", "group_pool", "reward_delay_workdays")
    change_list_template = "admin/referral/referralprogram/change_list.html"

    def get_queryset(self, request):
        return programs_with_figures(super().get_queryset(request).select_related("campaign"))

    def has_change_permission(self, request, obj=None):
        return _editable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ("campaign",) if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "campaign":
            kwargs["queryset"] = Campaign.objects.filter(
                kind=Campaign.Kind.REFERRAL, status=Campaign.Status.DRAFT, referral__isnull=True
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=gettext_lazy("状态"))
    def status(self, obj):
        return obj.campaign.get_status_display()

    @admin.display(description=gettext_lazy("奖励档位"))
    def tiers_display(self, obj):
        return "；".join(
            f"{t.threshold}→{tier_reward_text(t)}"
            for t in obj.tiers.select_related("coupon_template").order_by("threshold")
        )

    @admin.display(description=gettext_lazy("邀请人"), ordering="fig_inviters")
    def inviters(self, obj):
        return obj.fig_inviters

    @admin.display(description=gettext_lazy("成功邀请"), ordering="fig_succeeded")
    def invites(self, obj):
        return obj.fig_succeeded

    @admin.display(description=gettext_lazy("已拒绝"), ordering="fig_refused")
    def refused(self, obj):
        return obj.fig_refused

    @admin.display(description=gettext_lazy("已失效"), ordering="fig_lapsed")
    def lapsed(self, obj):
        return obj.fig_lapsed

    @admin.display(description=gettext_lazy("已发放奖励"), ordering="fig_rewards")
    def rewards(self, obj):
        return obj.fig_rewards

    def save_model(self, request, obj, form, change):
        # Saved with its tiers in save_related, through the service.
        self._pending = obj

    def save_related(self, request, form, formsets, change):
        program = self._pending
        tiers, deleted = [], []
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            for inline_form in formset.forms:
                data = getattr(inline_form, "cleaned_data", None)
                if not data or (not inline_form.has_changed() and not inline_form.instance.pk):
                    continue
                if data.get("DELETE"):
                    if inline_form.instance.pk:
                        deleted.append(inline_form.instance.pk)
                        formset.deleted_objects.append(inline_form.instance)
                    continue
                if inline_form.instance.pk:
                    formset.changed_objects.append((inline_form.instance, inline_form.changed_data))
                else:
                    formset.new_objects.append(inline_form.instance)
                tiers.append(inline_form.instance)
        try:
            program_save(actor=request.user, program=program, tiers=tiers, deleted_tier_ids=deleted)
        except DomainError as exc:
            raise PermissionDenied(exc.message) from exc
        form.instance = program

    def get_urls(self):
        return [
            path(
                "spreaders/",
                self.admin_site.admin_view(self.spreaders_view),
                name="referral_spreaders",
            ),
            *super().get_urls(),
        ]

    def spreaders_view(self, request):
        """The key-spreader report (D8): ranking by direct and indirect successful invites
        and by the value of those customers; ops tag the top ones from here."""
        if not is_ops(request.user):
            raise PermissionDenied
        programs = ReferralProgram.objects.select_related("campaign").order_by("-pk")
        program_id = request.GET.get("program") or request.POST.get("program") or ""
        selected = [int(program_id)] if program_id.isdigit() else None
        order = request.GET.get("order", "total")
        if order not in ORDERS:
            order = "total"
        if request.method == "POST":
            try:
                top = int(request.POST.get("top") or 20)
                result = key_spreaders_refresh(top=top, program_ids=selected)
            except (DomainError, ValueError) as exc:
                messages.error(request, getattr(exc, "message", _("人数须为整数")))
            else:
                messages.success(
                    request,
                    _("已为 %(n)s 位关键传播者打上标签并更新分群（新增 %(a)s，移除 %(r)s）")
                    % {"n": result.members, "a": result.tagged, "r": result.untagged},
                )
            return HttpResponseRedirect(request.get_full_path())
        rows = spreaders_rank(program_ids=selected, order=order, limit=100)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW_SENSITIVE,
            target="referral.spreaders",
            request=request,
            details={"program": program_id, "order": order, "rows": len(rows)},
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("关键传播者"),
            "opts": self.model._meta,
            "rows": rows,
            "programs": programs,
            "program_id": program_id,
            "order": order,
            "orders": [
                ("total", _("成功邀请总数")),
                ("direct", _("直接邀请")),
                ("value", _("客户价值")),
            ],
        }
        return TemplateResponse(request, "admin/referral/spreaders.html", context)


@admin.register(Invitation)
class InvitationAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "invited_at",
        "program",
        "inviter",
        "invitee",
        "depth",
        "status",
        "refusal",
        "lapse",
        "staff",
        "group",
    )
    list_filter = ("status", "refusal", "lapse", "depth", "program")
    date_hierarchy = "invited_at"
    search_fields = ("inviter__external_userid", "invitee__external_userid", "code__state")

    def get_queryset(self, request):
        return invitations_for_admin()


@admin.register(ReferralReward)
class ReferralRewardAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "reached_at",
        "program",
        "inviter",
        "tier",
        "status",
        "due_on",
        "settled_at",
        "gift_fulfilled_at",
        "note",
    )
    list_filter = ("status", "tier__kind", "program")
    actions = ["fulfil_gifts"]

    def get_queryset(self, request):
        return rewards_for_admin()

    @admin.action(description=gettext_lazy("标记礼品已发放"))
    def fulfil_gifts(self, request, queryset):
        done = sum(gift_fulfil(reward_id=r.pk, actor=request.user) for r in queryset)
        self.message_user(request, _("已标记 %(n)s 份礼品已发放") % {"n": done})

    def get_actions(self, request):
        # The action writes through a service; the read-only admin would hide it.
        actions = super().get_actions(request)
        return actions if is_ops(request.user) else {}


@admin.register(InviteCode)
class InviteCodeAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("state", "program", "inviter", "staff", "created_at", "link")
    list_filter = ("program",)
    search_fields = ("state", "inviter__external_userid")

    @admin.display(description=gettext_lazy("邀请链接"))
    def link(self, obj):
        return invite_url(customer_id=obj.inviter_id, campaign_id=obj.program.campaign_id)


@admin.register(Conversion)
class ConversionAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("reported_at", "customer", "kind", "reference", "occurred_at")
    list_filter = ("kind",)


class SegmentMemberInline(admin.TabularInline):
    model = SegmentMember
    extra = 0
    fields = ("rank", "customer", "added_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Segment)
class SegmentAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "description", "size", "refreshed_at")
    inlines = [SegmentMemberInline]

    @admin.display(description=gettext_lazy("人数"))
    def size(self, obj):
        return obj.members.count()
