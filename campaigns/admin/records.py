"""Claims, redemptions, refusals, announcements, the blacklist and marketing consent
(ops only: compliance reviewers never see customers' claims, D14)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy

from contacts.models import Customer
from scrm.core.errors import DomainError

from ..codes import code_display
from ..models import (
    Announcement,
    Blacklist,
    ClaimRefusal,
    Coupon,
    MarketingConsent,
    Redemption,
)
from ..money import fen_display
from ..services import abuse, consent
from .common import OpsOnlyMixin, ReadOnlyMixin


def _masked_code(code: str) -> str:
    # A code is a bearer value: lists show enough to recognise it, not to use it.
    return f"{code[:4]}-****-****-{code[-4:]}"


@admin.register(Coupon)
class CouponAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "code_masked",
        "campaign",
        "template",
        "customer",
        "status",
        "source",
        "variant",
        "claimed_at",
        "valid_until",
        "redeemed_at",
    )
    list_filter = (
        "status",
        "source",
        "campaign",
        "template",
        ("claimed_at", admin.DateFieldListFilter),
    )
    search_fields = ("=code", "customer__external_userid", "customer__name")
    list_select_related = ("campaign", "template", "customer", "variant")
    date_hierarchy = "claimed_at"
    exclude = ("code", "phone_hash")
    readonly_fields = ("code_shown",)

    @admin.display(description=gettext_lazy("券码"))
    def code_masked(self, obj):
        return _masked_code(obj.code)

    @admin.display(description=gettext_lazy("券码"))
    def code_shown(self, obj):
        return code_display(obj.code)


@admin.register(Redemption)
class RedemptionAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "coupon_code",
        "merchant",
        "store",
        "amount",
        "discount",
        "status",
        "via",
        "redeemed_at",
        "reversed_at",
    )
    list_filter = ("status", "via", "merchant", "store", ("redeemed_at", admin.DateFieldListFilter))
    search_fields = ("=coupon__code", "merchant__name", "store__name")
    list_select_related = ("coupon", "merchant", "store")
    date_hierarchy = "redeemed_at"

    @admin.display(description=gettext_lazy("券码"))
    def coupon_code(self, obj):
        return _masked_code(obj.coupon.code)

    @admin.display(description=gettext_lazy("订单金额（元）"), ordering="amount_fen")
    def amount(self, obj):
        return fen_display(obj.amount_fen)

    @admin.display(description=gettext_lazy("优惠金额（元）"), ordering="discount_fen")
    def discount(self, obj):
        return fen_display(obj.discount_fen)


@admin.register(ClaimRefusal)
class ClaimRefusalAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at", "code", "reason", "source", "campaign", "template", "customer", "ip")
    list_filter = ("code", "source", "campaign", ("at", admin.DateFieldListFilter))
    search_fields = ("customer__external_userid", "ip", "reason")
    list_select_related = ("campaign", "template", "customer")
    date_hierarchy = "at"


@admin.register(Announcement)
class AnnouncementAdmin(OpsOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("campaign", "customer", "staff", "status", "reason", "created_at", "sent_at")
    list_filter = ("status", "campaign")
    search_fields = ("customer__external_userid", "customer__name")
    list_select_related = ("campaign", "customer", "staff")


class BlacklistForm(forms.ModelForm):
    phone = forms.CharField(
        label=gettext_lazy("手机号"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("只保存加密摘要和掩码"),
    )

    class Meta:
        model = Blacklist
        fields = ["kind", "customer", "reason"]


@admin.register(Blacklist)
class BlacklistAdmin(OpsOnlyMixin, admin.ModelAdmin):
    list_display = (
        "kind",
        "phone_masked",
        "customer",
        "reason",
        "is_active",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", "is_active")
    search_fields = ("phone_masked", "customer__external_userid", "customer__name", "reason")
    list_select_related = ("customer", "created_by")
    autocomplete_fields = ("customer",)
    actions = ["lift_selected"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = BlacklistForm
            kwargs["fields"] = ["kind", "phone", "customer", "reason"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["kind", "phone", "customer", "reason"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "kind",
            "phone_masked",
            "customer",
            "reason",
            "is_active",
            "created_by",
            "lifted_at",
        )

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            customer = data.get("customer") if data.get("kind") == Blacklist.Kind.CUSTOMER else None
            entry = abuse.blacklist_add(
                actor=request.user,
                reason=data.get("reason", ""),
                phone=data.get("phone", "") if data.get("kind") == Blacklist.Kind.PHONE else "",
                customer_id=customer.pk if isinstance(customer, Customer) else None,
                request=request,
            )
            obj.pk = entry.pk
            obj._state.adding = False
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=gettext_lazy("解除拉黑"))
    def lift_selected(self, request, queryset):
        for entry in queryset.filter(is_active=True):
            abuse.blacklist_lift(actor=request.user, entry_id=entry.pk, request=request)
        self.message_user(request, gettext_lazy("已解除"))


class ConsentForm(forms.ModelForm):
    class Meta:
        model = MarketingConsent
        fields = ["customer", "category", "granted", "source", "note"]


@admin.register(MarketingConsent)
class MarketingConsentAdmin(OpsOnlyMixin, admin.ModelAdmin):
    """Answers are appended, never edited: a change of mind is a new record."""

    form = ConsentForm
    list_display = ("customer", "category", "granted", "source", "recorded_at", "recorded_by")
    list_filter = ("category", "granted", "source")
    search_fields = ("customer__external_userid", "customer__name")
    list_select_related = ("customer", "recorded_by")
    autocomplete_fields = ("customer",)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        record = consent.consent_record(
            customer_id=data["customer"].pk,
            category=data["category"],
            granted=data["granted"],
            source=data["source"],
            actor=request.user,
            note=data.get("note", ""),
        )
        obj.pk = record.pk
        obj._state.adding = False
