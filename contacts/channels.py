"""Channel codes (渠道活码, D2): WeCom contact ways with a unique ``state``, and their figures.

Ops create channels in the admin; once the save has committed, the channel goes to
WeCom (``add_contact_way`` / ``update_contact_way``), and deleting or deactivating
removes the contact way. The ``state`` a customer brings with them attributes them
to the channel (the first channel is kept for good), so the figures here count
relations by ``state``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError

from .models import ChannelCode, Customer, FollowRelation, Staff

logger = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- push
# Three steps, so that no database lock is held while WeCom answers: a short
# transaction reads (and validates) what the channel should look like in WeCom, the
# WeCom calls run with no transaction open, and a second short transaction records
# the result. The record applies the contact way only if no other push recorded one
# meanwhile; when the channel was edited during the call (or another push got there
# first) the push runs again with the newest data, so a slow, stale call can neither
# overwrite a newer edit here nor leave WeCom with the older fields.

PUSH_ROUNDS = 3
WAY_GONE = 41044  # WeCom: invalid config_id (the contact way no longer exists)


@dataclass(frozen=True)
class ContactWayClaim:
    """What one push sends: read from the channel in the claim transaction."""

    channel_id: int
    active: bool
    config_id: str
    qr_code: str
    fields: dict = field(default_factory=dict)

    @property
    def way_type(self) -> int:
        return 1 if len(self.fields.get("user") or []) == 1 else 2

    def same_wish(self, other: ContactWayClaim) -> bool:
        """Both ask WeCom for the same contact way (active or not, same fields)."""
        return (self.active, self.fields) == (other.active, other.fields)


@dataclass
class ContactWayOutcome:
    """What WeCom holds for the channel after the calls (also after a failure)."""

    config_id: str
    qr_code: str
    created: str = ""  # a contact way these calls created
    error: Exception | None = None


def _contact_way_wish(channel: ChannelCode) -> ContactWayClaim:
    """The contact way the channel asks for, as it is now (no validation)."""
    fields: dict = {}
    if channel.is_active:
        userids = list(channel.staff.order_by("userid").values_list("userid", flat=True))
        fields = _contact_way_fields(channel, userids)
    return ContactWayClaim(
        channel_id=channel.pk,
        active=channel.is_active,
        config_id=channel.config_id,
        qr_code=channel.qr_code,
        fields=fields,
    )


def channel_code_validate(*, channel: ChannelCode) -> None:
    """An active channel needs a state of at most 30 characters and active staff."""
    if not channel.is_active:
        return
    if len(channel.state or "") > STATE_MAX:
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


def _push_claim(channel_id: int) -> ContactWayClaim:
    with transaction.atomic():
        channel = ChannelCode.objects.select_for_update().get(pk=channel_id)
        fresh_state = channel.is_active and not channel.state
        if fresh_state:
            channel.state = channel_state_generate(channel_type=channel.channel_type)
        channel_code_validate(channel=channel)
        if fresh_state:
            channel.save(update_fields=["state", "updated_at"])
        return _contact_way_wish(channel)


def _contact_way_call(claim: ContactWayClaim) -> ContactWayOutcome:
    """Bring WeCom's contact way in line with the claim. Runs outside any transaction."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError, WeComPermanentError

    outcome = ContactWayOutcome(config_id=claim.config_id, qr_code=claim.qr_code)
    try:
        if not claim.active:
            if outcome.config_id:
                _contact_way_delete(outcome.config_id)
            outcome.config_id, outcome.qr_code = "", ""
            return outcome
        if outcome.config_id:
            try:
                # WeCom cannot change a way's type: one member <-> several means a new code.
                way = wecom.contact_way_get(outcome.config_id)
                if int(way.get("type") or 0) != claim.way_type:
                    wecom.contact_way_delete(outcome.config_id)
                    outcome.config_id, outcome.qr_code = "", ""
                else:
                    wecom.contact_way_update(outcome.config_id, **claim.fields)
                    outcome.qr_code = way.get("qr_code") or outcome.qr_code
            except WeComPermanentError as exc:
                if exc.errcode != WAY_GONE:  # gone in WeCom: create it again
                    raise
                outcome.config_id, outcome.qr_code = "", ""
        if not outcome.config_id:
            result = wecom.contact_way_add(type=claim.way_type, scene=2, **claim.fields)
            outcome.config_id = outcome.created = str(result["config_id"])
            outcome.qr_code = str(result.get("qr_code") or "")
    except WeComError as exc:
        outcome.error = exc
    return outcome


def _contact_way_delete(config_id: str) -> None:
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComPermanentError

    try:
        wecom.contact_way_delete(config_id)
    except WeComPermanentError as exc:
        if exc.errcode != WAY_GONE:  # already gone in WeCom
            raise


def _push_record(
    claim: ContactWayClaim, outcome: ContactWayOutcome
) -> tuple[ChannelCode | None, bool, str]:
    """Record what WeCom holds now. Returns the channel (None if deleted meanwhile),
    whether the push is settled, and a contact way of ours nobody uses (to delete)."""
    with transaction.atomic():
        channel = ChannelCode.objects.select_for_update().filter(pk=claim.channel_id).first()
        if channel is None:
            return None, True, outcome.created
        if channel.config_id != claim.config_id:
            # Another push recorded its contact way while we called: it stands, ours goes,
            # and we look again at what the channel asks for now.
            return channel, False, outcome.created
        if (channel.config_id, channel.qr_code) != (outcome.config_id, outcome.qr_code):
            channel.config_id, channel.qr_code = outcome.config_id, outcome.qr_code
            ChannelCode.objects.filter(pk=channel.pk).update(
                config_id=outcome.config_id, qr_code=outcome.qr_code
            )
        return channel, _contact_way_wish(channel).same_wish(claim), ""


def channel_code_push(*, channel_id: int) -> ChannelCode:
    """Create or update the channel's contact way in WeCom; remove it when inactive.

    Validates first (a state, at least one active staff member); WeCom's refusals
    come back as ``DomainError`` with a message for ops, and the channel keeps the
    contact way WeCom really holds, so saving again retries. No transaction is open
    while WeCom is called: call this after the caller's transaction committed.
    """
    for _round in range(PUSH_ROUNDS):
        claim = _push_claim(channel_id)
        outcome = _contact_way_call(claim)
        channel, settled, unused = _push_record(claim, outcome)
        if unused:
            _contact_way_discard(unused)
        if outcome.error is not None:
            raise _wecom_error(outcome.error) from outcome.error
        if channel is None:
            raise DomainError("channel_gone", _("渠道活码已被删除"))
        if settled:
            return channel
    raise DomainError(
        "channel_push_busy", _("渠道活码正在被同时修改，未能同步到企业微信，请稍后再保存一次")
    )


def _contact_way_discard(config_id: str) -> None:
    from scrm.wecom.errors import WeComError

    try:
        _contact_way_delete(config_id)
    except WeComError:
        # It carries the channel's state, so a scan through it is still attributed.
        logger.warning("unused contact way left in WeCom", extra={"config_id": config_id})


def channel_code_delete(*, channel_id: int) -> None:
    """Remove the contact way from WeCom, then delete the channel (customers keep
    ``first_state``). If WeCom refuses, the channel stays and deleting again retries."""
    for _round in range(PUSH_ROUNDS):
        config_id = (
            ChannelCode.objects.filter(pk=channel_id).values_list("config_id", flat=True).first()
        )
        if config_id is None:
            return
        if config_id:
            from scrm.wecom.errors import WeComError

            try:
                _contact_way_delete(config_id)
            except WeComError as exc:
                raise _wecom_error(exc) from exc
        with transaction.atomic():
            # A push that recorded a new contact way meanwhile sends us round again.
            deleted, _rows = ChannelCode.objects.filter(
                pk=channel_id, config_id__in=[config_id, ""]
            ).delete()
            if deleted or not ChannelCode.objects.filter(pk=channel_id).exists():
                return
    raise DomainError("channel_push_busy", _("渠道活码正在被同时修改，未能删除，请稍后再试"))


# --------------------------------------------------------------------------- figures
# One computation for the admin's list (sortable columns) and a channel's own page.


@dataclass(frozen=True)
class ChannelFigures:
    adds: int = 0
    removals: int = 0
    first_touch: int = 0
    verified: int = 0

    @classmethod
    def of(cls, channel: ChannelCode) -> ChannelFigures:
        """The figures of a channel from ``channels_with_figures``."""
        return cls(
            adds=channel.fig_adds,
            removals=channel.fig_removals,
            first_touch=channel.fig_first_touch,
            verified=channel.fig_verified,
        )

    @property
    def net(self) -> int:
        return self.adds - self.removals

    @property
    def verified_share(self) -> float | None:
        """Verified bank customers among those who came in first through the channel."""
        return self.verified / self.first_touch if self.first_touch else None


def _count(queryset, group_by: str):
    return Coalesce(
        Subquery(
            queryset.order_by().values(group_by).annotate(n=Count("id")).values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def channels_with_figures(queryset: QuerySet[ChannelCode]) -> QuerySet[ChannelCode]:
    """Each channel with its adds, removals and first touches (verified or not).

    Relations count by the channel's ``state`` (a channel without one has none);
    first touches by the customer's first channel. ``fig_*`` annotations, so the
    admin can sort by them; ``ChannelFigures.of(channel)`` reads them.
    """
    relations = FollowRelation.objects.filter(state=OuterRef("state")).exclude(state="")
    firsts = Customer.objects.filter(first_channel=OuterRef("pk"))
    return queryset.annotate(
        fig_adds=_count(relations, "state"),
        fig_removals=_count(relations.filter(status__in=REMOVED), "state"),
        fig_first_touch=_count(firsts, "first_channel"),
        fig_verified=_count(firsts.filter(verified_at__isnull=False), "first_channel"),
    )


def channel_figures(*, channels: list[ChannelCode]) -> dict[int, ChannelFigures]:
    """Adds, removals, net and verified share per channel (one query)."""
    rows = channels_with_figures(ChannelCode.objects.filter(pk__in=[c.pk for c in channels]))
    return {row.pk: ChannelFigures.of(row) for row in rows}


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
        payload = content_message_build(
            version=version, variables=variables, customer_id=customer.pk
        )
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
