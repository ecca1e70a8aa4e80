"""Admin of the payout ledger (ops only): payouts with their attempt history, the
red-packet settings of draft campaigns, and the red-packet campaign report.

Money fields are read-only everywhere; the only write on an entry is cancelling it,
through the service (which gives the budget back).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.admin.common import OpsOnlyMixin, ReadOnlyMixin, form_error
from campaigns.models import Campaign
from campaigns.money import fen_display
from scrm.core.errors import DomainError

from .models import Payout, PayoutAttempt, PayoutPolicy, RedPacketCampaign
from .red_packets import red_packet_configure, red_packet_validate
from .selectors import campaign_payout_report
from .services import payout_cancel


def _masked(value: str) -> str:
    return f"{value[:4]}…{value[-4:]}" if len(value) > 10 else ("****" if value else "")


class PayoutAttemptInline(admin.TabularInline):
    model = PayoutAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "kind",
        "outcome",
        "error_code",
        "error_message",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    ordering = ("number", "pk")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Payout)
class PayoutAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "bill_no",
        "campaign",
        "customer",
        "reason",
        "amount",
        "status",
        "cancel_reason",
        "due_on",
        "attempt_count",
        "paid_at",
    )
    list_filter = (
        "status",
        "cancel_reason",
        "reason",
        "campaign",
        ("due_on", admin.DateFieldListFilter),
        ("paid_at", admin.DateFieldListFilter),
    )
    search_fields = ("=bill_no", "=source_key", "customer__external_userid")
    list_select_related = ("campaign", "customer")
    date_hierarchy = "due_on"
    inlines = [PayoutAttemptInline]
    fields = (
        "bill_no",
        "campaign",
        "customer",
        "reason",
        "amount",
        "status",
        "cancel_reason",
        "due_on",
        "conditions",
        "group",
        "staff",
        "source_key",
        "note",
        "attempt_count",
        "next_attempt_at",
        "needs_query",
        "deferrals",
        "last_error",
        "channel",
        "channel_ref",
        "openid_masked",
        "created_at",
        "paid_at",
        "closed_at",
    )
    readonly_fields = fields
    actions = ["cancel_selected"]

    @admin.display(description=_("金额（元）"), ordering="amount_fen")
    def amount(self, obj):
        return fen_display(obj.amount_fen)

    @admin.display(description=_("收款 openid"))
    def openid_masked(self, obj):
        return _masked(obj.openid)

    def has_change_permission(self, request, obj=None):
        # Read-only page; the cancel action needs the right to change.
        return OpsOnlyMixin.has_view_permission(self, request, obj) and request.user.has_perm(
            "payouts.change_payout"
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("cancel_selected", None)
        return actions

    @admin.action(description=_("取消所选的待发放记录（预算退回活动）"))
    def cancel_selected(self, request, queryset):
        done, refused = 0, 0
        for payout in queryset:
            try:
                payout_cancel(payout=payout)
                done += 1
            except DomainError:
                refused += 1
        if done:
            self.message_user(request, gettext("已取消 %(n)d 笔。") % {"n": done}, messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                gettext("%(n)d 笔已发放、发送中或已结束，未取消。") % {"n": refused},
                messages.WARNING,
            )


class PayoutPolicyForm(forms.ModelForm):
    conditions = forms.MultipleChoiceField(
        label=_("发放条件"),
        choices=Payout.Condition.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("在发放日检查；不满足的记录取消并写明原因"),
    )

    class Meta:
        model = PayoutPolicy
        fields = (
            "campaign",
            "amount_fen",
            "delay_workdays",
            "conditions",
            "daily_budget_fen",
            "wishing",
            "act_name",
            "sender_name",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "campaign" in self.fields:
            self.fields["campaign"].queryset = Campaign.objects.filter(
                kind=Campaign.Kind.RED_PACKET, status=Campaign.Status.DRAFT
            )

    def clean(self):
        cleaned = super().clean()
        campaign = cleaned.get("campaign") or getattr(self.instance, "campaign", None)
        if campaign is not None and cleaned.get("amount_fen") is not None:
            try:
                red_packet_validate(
                    campaign=campaign,
                    amount_fen=cleaned["amount_fen"],
                    delay_workdays=cleaned.get("delay_workdays") or 0,
                    conditions=cleaned.get("conditions") or [],
                    daily_budget_fen=cleaned.get("daily_budget_fen"),
                )
            except DomainError as exc:
                form_error(self, exc)
        return cleaned


@admin.register(PayoutPolicy)
class PayoutPolicyAdmin(OpsOnlyMixin, admin.ModelAdmin):
    form = PayoutPolicyForm
    list_display = ("campaign", "amount", "delay_workdays", "conditions", "daily_budget")
    list_select_related = ("campaign",)

    @admin.display(description=_("红包金额（元）"))
    def amount(self, obj):
        return fen_display(obj.amount_fen)

    @admin.display(description=_("每日预算（元）"))
    def daily_budget(self, obj):
        return fen_display(obj.daily_budget_fen) if obj.daily_budget_fen else "—"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.campaign.status != Campaign.Status.DRAFT:
            return [f for f in PayoutPolicyForm.Meta.fields]  # approved: frozen
        return ("campaign",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service (the form already validated with the same rules).
        policy = red_packet_configure(
            actor=request.user,
            campaign_id=obj.campaign_id,
            amount_fen=obj.amount_fen,
            delay_workdays=obj.delay_workdays,
            conditions=form.cleaned_data.get("conditions") or [],
            daily_budget_fen=obj.daily_budget_fen,
            wishing=obj.wishing,
            act_name=obj.act_name,
            sender_name=obj.sender_name,
        )
        obj.pk = policy.pk


@admin.register(RedPacketCampaign)
class RedPacketCampaignAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Per red-packet campaign: payouts by state, budget used vs cap, cost per member."""

    list_display = (
        "name",
        "status",
        "packet",
        "members",
        "paid",
        "cancelled",
        "open",
        "paid_yuan",
        "budget",
        "cost_per_member",
    )
    list_filter = ("status",)
    search_fields = ("name",)
    fields = ("name", "status", "starts_at", "ends_at", "packet", "budget", "report")
    readonly_fields = fields

    def get_queryset(self, request):
        open_states = [Payout.Status.SCHEDULED, Payout.Status.SENDING, Payout.Status.FAILED]
        return (
            super()
            .get_queryset(request)
            .filter(kind=Campaign.Kind.RED_PACKET)
            .select_related("payout_policy")
            .annotate(
                n_members=_payout_count(),
                n_paid=_payout_count(Q(status=Payout.Status.PAID)),
                n_cancelled=_payout_count(Q(status=Payout.Status.CANCELLED)),
                n_open=_payout_count(Q(status__in=open_states)),
                fen_paid=_paid_sum(),
            )
        )

    @admin.display(description=_("红包"))
    def packet(self, obj):
        policy = getattr(obj, "payout_policy", None)
        if policy is None:
            return "—"
        return gettext("%(yuan)s 元，入群后第 %(n)d 个工作日") % {
            "yuan": fen_display(policy.amount_fen),
            "n": policy.delay_workdays,
        }

    @admin.display(description=_("入群人数"), ordering="n_members")
    def members(self, obj):
        return obj.n_members

    @admin.display(description=_("已发放"), ordering="n_paid")
    def paid(self, obj):
        return obj.n_paid

    @admin.display(description=_("已取消"), ordering="n_cancelled")
    def cancelled(self, obj):
        return obj.n_cancelled

    @admin.display(description=_("待发放/重试中"), ordering="n_open")
    def open(self, obj):
        return obj.n_open

    @admin.display(description=_("已发金额（元）"), ordering="fen_paid")
    def paid_yuan(self, obj):
        return fen_display(obj.fen_paid or 0)

    @admin.display(description=_("预算占用/上限（元）"))
    def budget(self, obj):
        cap = fen_display(obj.budget_fen) if obj.budget_fen is not None else gettext("不限")
        return f"{fen_display(obj.budget_committed_fen)} / {cap}"

    @admin.display(description=_("人均成本（元）"))
    def cost_per_member(self, obj):
        if not obj.n_members:
            return "—"
        return f"{(obj.fen_paid or 0) / obj.n_members / 100:.2f}"

    @admin.display(description=_("发放明细"))
    def report(self, obj):
        report = campaign_payout_report(obj)
        labels = dict(Payout.Status.choices)
        reasons = dict(Payout.CancelReason.choices)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (labels.get(status, status), count, fen_display(fen))
                for status, (count, fen) in sorted(report.by_status.items())
            ),
        )
        why = format_html_join(
            "",
            "<li>{}: {}</li>",
            ((reasons.get(k, k), n) for k, n in report.cancel_reasons.items()),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>"
            "<p>{}</p><ul>{}</ul>",
            gettext("状态"),
            gettext("笔数"),
            gettext("金额（元）"),
            rows,
            gettext("取消原因"),
            why,
        )


def _payout_count(condition: Q | None = None):
    from django.db.models import OuterRef, Subquery

    qs = Payout.objects.filter(campaign=OuterRef("pk"))
    if condition is not None:
        qs = qs.filter(condition)
    return Coalesce(
        Subquery(qs.order_by().values("campaign").annotate(n=Count("id")).values("n")[:1]), 0
    )


def _paid_sum():
    from django.db.models import OuterRef, Subquery

    qs = Payout.objects.filter(campaign=OuterRef("pk"), status=Payout.Status.PAID)
    return Subquery(qs.order_by().values("campaign").annotate(s=Sum("amount_fen")).values("s")[:1])
