"""Admin for channel codes (渠道活码, D2), the staff directory and customer transfers.

Saving a channel creates or updates its WeCom contact way and deleting it (or
unticking "启用") removes it, through ``contacts.channels`` once the admin's
transaction has committed; WeCom's refusals show as admin messages. Staff can
hand their customers to a successor.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db import transaction
from django.db.models import Count, Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from . import channels
from .models import ChannelCode, CustomerTransfer, FollowRelation, Staff


class HandOverForm(ActionForm):
    successor = forms.ModelChoiceField(
        queryset=Staff.objects.filter(status=Staff.Status.ACTIVE),
        required=False,
        label=_("接替人"),
    )


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("userid", "name", "branch", "status", "user", "active_customers")
    list_filter = ("status", "branch")
    search_fields = ("userid", "name")
    raw_id_fields = ("user",)
    readonly_fields = ("left_at", "created_at", "updated_at")
    action_form = HandOverForm
    actions = ["hand_over_customers"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("branch", "user")
            .annotate(
                n_active=Count("follows", filter=Q(follows__status=FollowRelation.Status.ACTIVE))
            )
        )

    @admin.display(description=_("在跟客户"), ordering="n_active")
    def active_customers(self, obj: Staff) -> int:
        return obj.n_active

    @admin.action(description=_("将客户转接给…（在下方选择接替人）"))
    def hand_over_customers(self, request, queryset) -> None:
        from .staff import customers_hand_over

        successor_id = request.POST.get("successor")
        if not successor_id:
            messages.error(request, _("请先选择接替人"))
            return
        for staff in queryset:
            try:
                rows = customers_hand_over(
                    from_staff_id=staff.pk,
                    to_staff_id=int(successor_id),
                    requested_by=request.user,
                )
            except DomainError as exc:
                messages.error(request, f"{staff.name}：{exc.message}")
                continue
            waiting = sum(1 for r in rows if r.status == CustomerTransfer.Status.WAITING)
            failed = len(rows) - waiting
            messages.success(
                request,
                _("%(name)s：%(waiting)s 位客户等待接替，%(failed)s 位未被企业微信受理")
                % {"name": staff.name, "waiting": waiting, "failed": failed},
            )


@admin.register(CustomerTransfer)
class CustomerTransferAdmin(admin.ModelAdmin):
    list_display = (
        "customer",
        "from_staff",
        "to_staff",
        "status",
        "errcode",
        "detail",
        "requested_at",
        "finished_at",
    )
    list_filter = ("status",)
    raw_id_fields = ("customer", "from_staff", "to_staff", "requested_by")
    readonly_fields = [f.name for f in CustomerTransfer._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # requests go through "hand over customers" on the staff list


def _share(figures: channels.ChannelFigures) -> str:
    share = figures.verified_share
    return f"{share:.0%}" if share is not None else "—"


class ChannelCodeForm(forms.ModelForm):
    class Meta:
        model = ChannelCode
        fields = (
            "name",
            "channel_type",
            "state",
            "is_active",
            "skip_verify",
            "staff",
            "tags",
            "welcome_text",
            "welcome_content",
            "invite_pool",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "state" in self.fields:
            self.fields["state"].required = False
            self.fields["state"].help_text = _("留空自动生成；不超过 30 个字符，全局唯一")

    def clean_state(self) -> str:
        state = (self.cleaned_data.get("state") or "").strip()
        return state or channels.channel_state_generate(
            channel_type=self.cleaned_data.get("channel_type") or ""
        )

    def clean_staff(self):
        staff = self.cleaned_data.get("staff")
        if staff is not None and not staff.exists():
            raise forms.ValidationError(_("请至少选择一名接待员工"))
        if staff is not None and staff.count() > 100:
            raise forms.ValidationError(_("每个活码最多 100 名接待员工"))
        return staff


@admin.register(ChannelCode)
class ChannelCodeAdmin(admin.ModelAdmin):
    form = ChannelCodeForm
    list_display = (
        "name",
        "channel_type",
        "qr_thumb",
        "staff_names",
        "adds",
        "removals",
        "net",
        "verified_share",
        "is_active",
        "created_at",
    )
    list_filter = ("channel_type", "is_active")
    search_fields = ("name", "state")
    filter_horizontal = ("staff", "tags")
    raw_id_fields = ("welcome_content",)
    readonly_fields = ("qr_large", "config_id", "figures", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "channel_type", "state", "is_active", "skip_verify")}),
        (_("接待"), {"fields": ("staff",)}),
        (
            _("新好友"),
            {"fields": ("tags", "welcome_text", "welcome_content", "invite_pool")},
        ),
        (_("企业微信"), {"fields": ("qr_large", "config_id", "figures")}),
    )

    def get_queryset(self, request):
        return channels.channels_with_figures(
            super().get_queryset(request).prefetch_related("staff")
        )

    @admin.display(description=_("二维码"))
    def qr_thumb(self, obj: ChannelCode) -> str:
        if not obj.qr_code:
            return "—"
        return format_html('<img src="{}" width="48" height="48" alt="">', obj.qr_code)

    @admin.display(description=_("二维码"))
    def qr_large(self, obj: ChannelCode) -> str:
        if not obj.qr_code:
            return _("保存后生成")
        return format_html(
            '<img src="{}" width="200" height="200" alt=""><br><a href="{}">{}</a>',
            obj.qr_code,
            obj.qr_code,
            _("下载"),
        )

    @admin.display(description=_("接待员工"))
    def staff_names(self, obj: ChannelCode) -> str:
        return "、".join(s.name for s in obj.staff.all())

    @admin.display(description=_("添加数"), ordering="fig_adds")
    def adds(self, obj: ChannelCode) -> int:
        return channels.ChannelFigures.of(obj).adds

    @admin.display(description=_("流失数"), ordering="fig_removals")
    def removals(self, obj: ChannelCode) -> int:
        return channels.ChannelFigures.of(obj).removals

    @admin.display(description=_("净增"))
    def net(self, obj: ChannelCode) -> int:
        return channels.ChannelFigures.of(obj).net

    @admin.display(description=_("认证占比"))
    def verified_share(self, obj: ChannelCode) -> str:
        return _share(channels.ChannelFigures.of(obj))

    @admin.display(description=_("渠道数据"))
    def figures(self, obj: ChannelCode) -> str:
        if obj.pk is None:
            return "—"
        f = channels.channel_figures(channels=[obj])[obj.pk]
        return format_html(
            "{}：{}　{}：{}　{}：{}　{}：{}（{}/{}）",
            _("添加"),
            f.adds,
            _("流失"),
            f.removals,
            _("净增"),
            f.net,
            _("认证占比"),
            _share(f),
            f.verified,
            f.first_touch,
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        channel_id = form.instance.pk
        # The admin's transaction holds the channel's row until the view returns:
        # WeCom is called once it has committed.
        transaction.on_commit(lambda: self._push(request, channel_id))

    def _push(self, request, channel_id: int) -> None:
        try:
            channel = channels.channel_code_push(channel_id=channel_id)
        except DomainError as exc:
            messages.error(request, exc.message)
            return
        if channel.config_id:
            messages.info(request, _("已同步到企业微信「联系我」"))
        else:
            messages.info(request, _("已停用，企业微信中的二维码已删除"))

    def delete_model(self, request, obj: ChannelCode) -> None:
        channel_id = obj.pk
        transaction.on_commit(lambda: self._delete(request, channel_id))

    def _delete(self, request, channel_id: int) -> None:
        try:
            channels.channel_code_delete(channel_id=channel_id)
        except DomainError as exc:
            messages.error(request, exc.message)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
