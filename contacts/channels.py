"""Channel codes (渠道活码, D2): WeCom contact ways with a unique ``state``, and their figures.

Ops create channels in the admin; saving goes to WeCom (``add_contact_way`` /
``update_contact_way``), deleting or deactivating removes the contact way. The
``state`` a customer brings with them attributes them to the channel (the first
channel is kept for good), so the figures here count relations by ``state``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from .models import ChannelCode, Customer, FollowRelation, Staff

STATE_MAX = 30
# Removed relations count against a channel's net adds.
REMOVED = (FollowRelation.Status.REMOVED_BY_CUSTOMER, FollowRelation.Status.REMOVED_BY_STAFF)


def channel_state_generate(*, channel_type: str = "") -> str:
    """A fresh unique ``state`` (≤30 chars): the channel type, then random hex."""
    prefix = (channel_type or "ch").replace("_", "-")[:12]
    while True:
        state = f"{prefix}-{secrets.token_hex(6)}"[:STATE_MAX]
        if not ChannelCode.objects.filter(state=state).exists():
            return state


def _wecom_error(exc: Exception) -> DomainError:
    from scrm.wecom.errors import WeComConfigError, WeComError

    if isinstance(exc, WeComConfigError):
        return DomainError(
            "wecom_config",
            _("企业微信拒绝了请求（错误码 %(code)s）：应用权限或可信IP配置有误，请联系管理员")
            % {"code": exc.errcode},
        )
    if isinstance(exc, WeComError):
        known = {
            41041: _("接待员工过多（每个活码最多 100 人）"),
            41045: _("联系我二维码数量已达上限"),
            60111: _("有接待员工不在企业微信通讯录中"),
            40003: _("有接待员工不在企业微信通讯录中"),
            60011: _("有接待员工不在应用可见范围内"),
        }
        reason = known.get(exc.errcode or 0, exc.errmsg.split(",")[0][:80])
        return DomainError(
            "wecom_contact_way",
            _("企业微信渠道活码同步失败（错误码 %(code)s）：%(reason)s")
            % {"code": exc.errcode, "reason": reason},
        )
    return DomainError("wecom_contact_way", str(exc))


def _contact_way_fields(channel: ChannelCode, userids: list[str]) -> dict:
    return {
        "state": channel.state,
        "skip_verify": channel.skip_verify,
        "user": userids,
        "remark": channel.name[:30],
    }


@transaction.atomic
def channel_code_push(*, channel_id: int) -> ChannelCode:
    """Create or update the channel's contact way in WeCom; remove it when inactive.

    Validates first (a state, at least one active staff member); WeCom's refusals
    come back as ``DomainError`` with a message for ops.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError, WeComPermanentError

    channel = ChannelCode.objects.select_for_update().get(pk=channel_id)
    if not channel.is_active:
        return channel_code_withdraw(channel_id=channel.pk)
    if not channel.state:
        channel.state = channel_state_generate(channel_type=channel.channel_type)
    if len(channel.state) > STATE_MAX:
        raise DomainError("state_too_long", _("state 不能超过 30 个字符"))
    staff = list(channel.staff.order_by("userid"))
    if not staff:
        raise DomainError("channel_staff_required", _("请至少选择一名接待员工"))
    inactive = [s.name for s in staff if s.status != Staff.Status.ACTIVE]
    if inactive:
        raise DomainError(
            "channel_staff_inactive",
            _("接待员工已离职或被禁用：%(names)s") % {"names": "、".join(inactive)},
        )
    userids = [s.userid for s in staff]
    fields = _contact_way_fields(channel, userids)
    try:
        if channel.config_id:
            try:
                # WeCom cannot change a contact way's type: one member ↔ several means a new code.
                way = wecom.contact_way_get(channel.config_id)
                if int(way.get("type") or 0) != (1 if len(userids) == 1 else 2):
                    wecom.contact_way_delete(channel.config_id)
                    channel.config_id = ""
                else:
                    wecom.contact_way_update(channel.config_id, **fields)
                    channel.qr_code = way.get("qr_code") or channel.qr_code
            except WeComPermanentError as exc:
                if exc.errcode != 41044:  # the way is gone in WeCom: create it again
                    raise
                channel.config_id = ""
        if not channel.config_id:
            result = wecom.contact_way_add(type=1 if len(userids) == 1 else 2, scene=2, **fields)
            channel.config_id = str(result["config_id"])
            channel.qr_code = str(result.get("qr_code") or "")
    except WeComError as exc:
        raise _wecom_error(exc) from exc
    channel.save(update_fields=["state", "config_id", "qr_code", "updated_at"])
    return channel


@transaction.atomic
def channel_code_withdraw(*, channel_id: int) -> ChannelCode:
    """Remove the channel's contact way from WeCom (the QR code stops working)."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError, WeComPermanentError

    channel = ChannelCode.objects.select_for_update().get(pk=channel_id)
    if channel.config_id:
        try:
            wecom.contact_way_delete(channel.config_id)
        except WeComPermanentError as exc:
            if exc.errcode != 41044:  # already gone in WeCom
                raise _wecom_error(exc) from exc
        except WeComError as exc:
            raise _wecom_error(exc) from exc
    channel.config_id, channel.qr_code = "", ""
    channel.save(update_fields=["config_id", "qr_code", "updated_at"])
    return channel


@transaction.atomic
def channel_code_delete(*, channel_id: int) -> None:
    """Withdraw the contact way, then delete the channel (customers keep ``first_state``)."""
    channel_code_withdraw(channel_id=channel_id)
    ChannelCode.objects.filter(pk=channel_id).delete()


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class ChannelFigures:
    adds: int = 0
    removals: int = 0
    first_touch: int = 0
    verified: int = 0

    @property
    def net(self) -> int:
        return self.adds - self.removals

    @property
    def verified_share(self) -> float | None:
        """Verified bank customers among those who came in first through the channel."""
        return self.verified / self.first_touch if self.first_touch else None


def channel_figures(*, channels: list[ChannelCode]) -> dict[int, ChannelFigures]:
    """Adds, removals, net and verified share per channel: two grouped queries in all."""
    by_state = {c.state: c.pk for c in channels if c.state}
    rel = (
        FollowRelation.objects.filter(state__in=list(by_state))
        .values("state")
        .annotate(adds=Count("id"), removals=Count("id", filter=Q(status__in=REMOVED)))
    )
    cust = (
        Customer.objects.filter(first_channel_id__in=[c.pk for c in channels])
        .values("first_channel_id")
        .annotate(total=Count("id"), verified=Count("id", filter=Q(verified_at__isnull=False)))
    )
    adds = {by_state[r["state"]]: (r["adds"], r["removals"]) for r in rel}
    firsts = {r["first_channel_id"]: (r["total"], r["verified"]) for r in cust}
    return {
        c.pk: ChannelFigures(
            adds=adds.get(c.pk, (0, 0))[0],
            removals=adds.get(c.pk, (0, 0))[1],
            first_touch=firsts.get(c.pk, (0, 0))[0],
            verified=firsts.get(c.pk, (0, 0))[1],
        )
        for c in channels
    }


# --------------------------------------------------------------------------- welcome


def join_link_url(*, token: str, channel: ChannelCode) -> str:
    """The customer's personal link to the H5 join page (their region's group pool, D3)."""
    base = settings.SCRM_PUBLIC_URL
    url = f"{base.rstrip('/')}/h5/join/?t={token}"
    pool = channel.invite_pool
    region = getattr(pool, "region", None) if pool is not None else None
    if region is not None and getattr(region, "code", ""):
        url += f"&region={region.code}"
    return url


def channel_welcome_payload(
    *, channel: ChannelCode, customer: Customer, staff: Staff, join_url: str = ""
) -> dict:
    """The welcome message: the channel's text (variables filled in), the approved
    content's attachments, and the join link first when there is one.

    Raises ``DomainError`` when the welcome content is no longer approved.
    """
    from scrm.content import rules as content_rules
    from scrm.content.selectors import content_get_approved
    from scrm.content.services import content_message_build

    variables = {
        content_rules.VAR_CUSTOMER_NAME: customer.name or _("您"),
        content_rules.VAR_MANAGER_NAME: staff.name,
    }
    payload: dict = {"attachments": []}
    if channel.welcome_content_id:
        version = content_get_approved(content_id=channel.welcome_content_id)
        payload = content_message_build(version=version, variables=variables)
    if channel.welcome_text.strip():
        payload["text"] = {
            "content": content_rules.variables_render(channel.welcome_text, variables)
        }
    if join_url:
        link = {
            "msgtype": "link",
            "link": {
                "title": str(_("加入本地福利群")),
                "desc": str(_("点击进入，领取本地专属优惠")),
                "url": join_url,
            },
        }
        payload["attachments"] = [link, *payload.get("attachments", [])][:9]
    return payload
