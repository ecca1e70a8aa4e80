"""Invite codes: the campaign core's gates on the inviter, and the inviter's code made in
WeCom (a contact way of their manager, or a join way of the program's groups)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.services.claims import (
    campaign_config,
    customer_facts,
)
from campaigns.services.consent import customer_is_marketable
from contacts.models import Customer, FollowRelation, Staff
from groups.models import CustomerGroup
from scrm.core.errors import DomainError

from ..models import (
    InviteCode,
    ReferralProgram,
)
from .common import STATE_MAX, STATE_PREFIX, customer_named
from .programs import program_of_campaign

logger = logging.getLogger(__name__)


def inviter_check(*, program: ReferralProgram, customer_id: int, now: datetime) -> None:
    """The campaign core's gates on the inviter: live, known, not blacklisted, verified
    when verified-only, in the audience, consenting to the product category."""
    config = campaign_config(program.campaign_id, fresh=True)
    if config is None or not config.is_open(now):
        raise DomainError("campaign_not_live", _("活动未开始或已结束"), status=409)
    facts = customer_facts(customer_id=customer_id, config=config)
    if facts is None or facts.status == Customer.Status.ERASED:
        raise DomainError("link_invalid", _("链接无效"), status=403)
    if facts.blocked:
        raise DomainError("blocked", _("参与受限，如有疑问请联系您的客户经理"), status=403)
    if config.verified_only and not facts.verified:
        raise DomainError("not_eligible", _("本活动仅限本行认证客户参加"), status=403)
    if not facts.in_audience:
        raise DomainError("not_eligible", _("本活动仅限指定客户群或地区的客户参加"), status=403)
    if not customer_is_marketable(
        customer_id=customer_id, category=program.campaign.product_category
    ):
        raise DomainError("not_eligible", _("您暂不符合本活动的参加条件"), status=403)


def _manager_of(customer_id: int) -> Staff | None:
    """The inviter's manager: the staff member of their first live relation."""
    relation = (
        FollowRelation.objects.select_related("staff")
        .filter(
            customer_id=customer_id,
            status=FollowRelation.Status.ACTIVE,
            staff__status=Staff.Status.ACTIVE,
        )
        .order_by("added_at", "pk")
        .first()
    )
    return relation.staff if relation else None


def _state_new(program: ReferralProgram) -> str:
    while True:
        state = f"{STATE_PREFIX}{program.pk}-{secrets.token_hex(6)}"[:STATE_MAX]
        if not InviteCode.objects.filter(state=state).exists():
            return state


@dataclass(frozen=True)
class _Way:
    config_id: str
    qr_code: str


def _wecom_refused(exc: Exception) -> DomainError:
    logger.warning("invite code not made in WeCom", extra={"error": str(exc)[:200]})
    return DomainError(
        "wecom_invite_code",
        _("邀请二维码暂时无法生成，请稍后再试"),
        status=503,
    )


def _way_make(*, program: ReferralProgram, state: str, staff: Staff | None) -> _Way:
    """The WeCom side of a code. Runs with no transaction open."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError

    remark = _("老带新") + str(program.pk)
    try:
        if program.is_group_fission:
            chat_ids = _pool_chat_ids(program)
            if not chat_ids:
                raise DomainError("no_group", _("活动的客户群暂未开放，请稍后再试"), status=409)
            config_id = wecom.join_way_add(
                scene=2, remark=remark, auto_create_room=0, chat_id_list=chat_ids, state=state
            )
            way = wecom.join_way_get(config_id)
            return _Way(config_id=config_id, qr_code=str(way.get("qr_code") or ""))
        result = wecom.contact_way_add(
            type=1, scene=2, state=state, user=[staff.userid], remark=remark, skip_verify=True
        )
        return _Way(config_id=str(result["config_id"]), qr_code=str(result.get("qr_code") or ""))
    except WeComError as exc:
        raise _wecom_refused(exc) from exc


def _way_discard(program: ReferralProgram, config_id: str) -> None:
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError

    try:
        if program.is_group_fission:
            wecom.join_way_delete(config_id)
        else:
            wecom.contact_way_delete(config_id)
    except WeComError:
        # Its state still names no code, so a scan through it attributes nothing.
        logger.warning("unused invite way left in WeCom", extra={"config_id": config_id})


def _pool_chat_ids(program: ReferralProgram) -> list[str]:
    """The groups of the pool a group-fission code invites into (WeCom allows 5)."""
    pool = program.group_pool
    chat_ids = list(pool.join_way_chat_ids or [])
    if not chat_ids:
        chat_ids = list(
            CustomerGroup.objects.filter(pool=pool, status=CustomerGroup.Status.NORMAL)
            .order_by("pk")
            .values_list("chat_id", flat=True)
        )
    return chat_ids[:5]


def invite_code_ensure(
    *, program: ReferralProgram, inviter_id: int, now: datetime | None = None
) -> InviteCode:
    """The inviter's code, made in WeCom the first time (no transaction open while WeCom
    is called; a concurrent first open keeps one code and deletes the other way)."""
    now = now or timezone.now()
    # The gates hold on every open: a blacklisted inviter or an ended campaign shows no code.
    inviter_check(program=program, customer_id=inviter_id, now=now)
    code = InviteCode.objects.filter(program=program, inviter_id=inviter_id).first()
    if code is not None:
        return code
    staff = None
    if program.is_group_fission:
        staff = program.group_pool.owner
    else:
        staff = _manager_of(inviter_id)
        if staff is None:
            raise DomainError(
                "no_manager", _("请先添加您的客户经理为企业微信好友，再邀请好友"), status=409
            )
    state = _state_new(program)
    way = _way_make(program=program, state=state, staff=staff)
    try:
        with transaction.atomic():
            return InviteCode.objects.create(
                program=program,
                inviter_id=inviter_id,
                staff=staff,
                state=state,
                config_id=way.config_id,
                qr_code=way.qr_code,
            )
    except IntegrityError:
        _way_discard(program, way.config_id)
        return InviteCode.objects.get(program=program, inviter_id=inviter_id)


def invite_link_make(
    *, actor, campaign_id: int, external_userid: str = "", customer_no: str = ""
) -> tuple[InviteCode, Customer]:
    """The bank's systems (e.g. the mobile-bank app, D2) ask for a customer's personal
    invite code of a live referral campaign, to show it as the customer's poster."""
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(
        "referral.make_invite_links"
    ):
        raise DomainError("forbidden", _("该账号没有获取邀请链接的权限"), status=403)
    program = program_of_campaign(campaign_id)
    if program is None:
        raise DomainError("not_found", _("老带新活动不存在"), status=404)
    customer = customer_named(external_userid=external_userid, customer_no=customer_no)
    return invite_code_ensure(program=program, inviter_id=customer.pk), customer
