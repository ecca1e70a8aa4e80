"""Referral (老带新, D8): invite codes, the invite chain, success, lapses, tiered rewards.

The flow:

1. An inviter opens their personal link (``links.invite_url``); the first time, an
   invite code is made in WeCom (a contact way of their manager, or for group fission
   a join way of the program's groups) whose ``state`` names the code.
2. A friend scans it. contacts (``customer_added``) or groups (``member_joined``) tell
   us the state; ``invitation_record`` attributes the friend to the inviter, one level
   deeper in the chain, unless the invite is refused (self-invite, the same phone, an
   existing customer, a blacklisted customer, the campaign not live).
3. The invitation succeeds when the program's goal is met: at once for "added the
   manager" and "joined the group"; when the bank's systems report the friend verified
   or with a card opened (``conversion_record``).
4. At each tier's threshold of successful invites the inviter's reward is recorded once
   (a unique key per program, inviter and tier). Coupons are granted at once through
   the campaign core. Red packets and gifts wait ``reward_delay_workdays`` working days.
5. Invitees who delete the manager or leave the group lapse and stop counting.
6. On the due day ``reward_settle`` counts again (and lapses anyone whose relation is
   gone even if the callback was lost); below the threshold the reward is cancelled,
   otherwise a red packet goes to the payout ledger (due at once, the same bill for
   ever: ``source_key`` is the reward's) and a gift to fulfilment.

Why the count is checked here and not by a ledger condition: the ledger checks facts
about the payee (in the group, a friend, verified). Whether an inviter still has N
friends who count is referral's own rule, so the reward stays here until its day and
the ledger only ever sees a payout that is due. Nothing is paid that was not counted on
the payout day, and the ledger needs no knowledge of referral.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, Coupon
from campaigns.payouts.services import payout_schedule
from campaigns.services.claims import (
    ClaimRefused,
    campaign_config,
    coupon_claim,
    customer_facts,
)
from campaigns.services.consent import customer_is_marketable
from campaigns.services.lifecycle import user_is_campaign_editor
from contacts.models import Customer, FollowRelation, Staff
from groups.models import CustomerGroup, GroupMember
from scrm.core.errors import DomainError
from scrm.core.workdays import SHANGHAI, add_workdays

from .models import (
    Conversion,
    Invitation,
    InviteCode,
    ReferralProgram,
    ReferralReward,
    ReferralTier,
)

logger = logging.getLogger(__name__)

STATE_PREFIX = "rf"
STATE_MAX = 30
# WeCom's createtime is whole seconds and its clock is not ours: a customer first added
# this long before the code was made is still taken as new.
CLOCK_SKEW = timedelta(seconds=60)
LIVE_RELATION = (FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF)
REMOVED = (FollowRelation.Status.REMOVED_BY_CUSTOMER, FollowRelation.Status.REMOVED_BY_STAFF)


def _today(now: datetime):
    return now.astimezone(SHANGHAI).date()


# --------------------------------------------------------------------------- programs


def program_of_campaign(campaign_id: int) -> ReferralProgram | None:
    return (
        ReferralProgram.objects.select_related("campaign", "group_pool")
        .filter(campaign_id=campaign_id, campaign__kind=Campaign.Kind.REFERRAL)
        .first()
    )


def program_validate(*, program: ReferralProgram, tiers: list[ReferralTier]) -> None:
    """A referral campaign's settings and tiers, checked before they are saved."""
    if program.campaign.kind != Campaign.Kind.REFERRAL:
        raise DomainError("invalid", _("请选择“老带新”类型的活动"), data={"field": "campaign"})
    if program.goal == ReferralProgram.Goal.JOINED_GROUP and program.group_pool_id is None:
        raise DomainError(
            "invalid", _("群裂变活动请选择邀请入群的群池"), data={"field": "group_pool"}
        )
    thresholds = [t.threshold for t in tiers]
    if len(set(thresholds)) != len(thresholds):
        raise DomainError("invalid", _("同一邀请人数只能设置一个奖励档位"))
    coupons = [t for t in tiers if t.kind == ReferralTier.Kind.COUPON]
    for tier in coupons:
        if tier.coupon_template is None or tier.coupon_template.campaign_id != program.campaign_id:
            raise DomainError("invalid", _("优惠券档位须选择本活动的优惠券模板"))
    limit = program.campaign.per_customer_limit
    if coupons and limit is not None and limit < len(coupons):
        raise DomainError(
            "invalid",
            _("活动“每位客户限领”（%(limit)s）少于优惠券档位数（%(n)s）")
            % {"limit": limit, "n": len(coupons)},
        )
    if any(t.kind == ReferralTier.Kind.RED_PACKET and not t.amount_fen for t in tiers):
        raise DomainError("invalid", _("红包档位须填写金额"))
    if any(t.kind == ReferralTier.Kind.GIFT and not t.gift_name.strip() for t in tiers):
        raise DomainError("invalid", _("礼品档位须填写礼品名称"))


def _require_draft_editor(actor, campaign: Campaign) -> None:
    if not user_is_campaign_editor(actor):
        raise DomainError("forbidden", _("只有运营人员可以编辑或运行活动"), status=403)
    if campaign.status != Campaign.Status.DRAFT:
        raise DomainError(
            "campaign_not_draft",
            _("只有草稿状态的活动可以修改；已提交的活动以审核为准"),
            status=409,
        )


@transaction.atomic
def program_save(
    *,
    actor,
    program: ReferralProgram,
    tiers: list[ReferralTier],
    deleted_tier_ids: list[int] = (),
) -> ReferralProgram:
    """Save a referral campaign's settings and tiers (only while the campaign is a draft:
    what compliance approved is what runs)."""
    campaign = Campaign.objects.select_for_update().get(pk=program.campaign_id)
    program.campaign = campaign
    _require_draft_editor(actor, campaign)
    kept = [t for t in tiers if t.pk not in set(deleted_tier_ids)]
    if program.pk:
        others = program.tiers.exclude(pk__in=[t.pk for t in kept if t.pk]).exclude(
            pk__in=list(deleted_tier_ids)
        )
        kept_all = kept + list(others)
    else:
        kept_all = kept
    program_validate(program=program, tiers=kept_all)
    program.save()
    if deleted_tier_ids:
        ReferralTier.objects.filter(program=program, pk__in=list(deleted_tier_ids)).delete()
    for tier in kept:
        tier.program = program
        tier.save()
    return program


def review_check(*, campaign: Campaign) -> None:
    """campaigns.hooks.review_checks: a referral campaign goes to compliance with its
    settings and at least one tier."""
    if campaign.kind != Campaign.Kind.REFERRAL:
        return
    program = ReferralProgram.objects.filter(campaign=campaign).first()
    if program is None:
        raise DomainError("no_referral", _("老带新活动还没有设置邀请规则"), status=409)
    tiers = list(program.tiers.select_related("coupon_template"))
    if not tiers:
        raise DomainError("no_tiers", _("老带新活动还没有奖励档位"), status=409)
    program.campaign = campaign
    program_validate(program=program, tiers=tiers)


def review_texts(*, campaign: Campaign) -> list[tuple[str, str]]:
    """campaigns.hooks.review_texts: the gift names customers see on the invite page."""
    if campaign.kind != Campaign.Kind.REFERRAL:
        return []
    return [
        (_("礼品档位「%(n)s 人」") % {"n": t.threshold}, t.gift_name)
        for t in ReferralTier.objects.filter(
            program__campaign=campaign, kind=ReferralTier.Kind.GIFT
        ).order_by("threshold")
    ]


# --------------------------------------------------------------------------- the inviter


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


# --------------------------------------------------------------------------- the chain


def phone_hashes(customer_id: int) -> set[str]:
    """Every phone digest known for a customer: their bank record's and the mobiles
    their managers noted on the relations."""
    hashes: set[str] = set()
    bank = Customer.objects.filter(pk=customer_id).values_list("bank_record__phone_hash", flat=True)
    hashes.update(h for h in bank if h)
    for row in FollowRelation.objects.filter(customer_id=customer_id).values_list(
        "remark_mobile_hashes", flat=True
    ):
        hashes.update(h for h in (row or []) if h)
    return hashes


def _existing_customer(code: InviteCode, invitee: Customer, group: CustomerGroup | None) -> bool:
    """Already ours before the code was made: not a friend brought in by the inviter."""
    before = code.created_at - CLOCK_SKEW
    if group is not None:
        return (
            GroupMember.objects.filter(
                customer=invitee, group__pool_id=group.pool_id, join_time__lt=before
            ).exists()
            or GroupMember.objects.filter(
                customer=invitee, group=group, join_time__lt=before
            ).exists()
        )
    if invitee.first_added_at is not None and invitee.first_added_at < before:
        return True
    return FollowRelation.objects.filter(customer=invitee, added_at__lt=before).exists()


def _refusal(
    *, code: InviteCode, invitee: Customer, group: CustomerGroup | None, at: datetime
) -> str:
    program = code.program
    if invitee.pk == code.inviter_id:
        return Invitation.Refusal.SELF_INVITE
    if phone_hashes(invitee.pk) & phone_hashes(code.inviter_id):
        return Invitation.Refusal.SAME_PHONE
    facts = customer_facts(customer_id=invitee.pk, config=None)
    if facts is None or facts.blocked:
        return Invitation.Refusal.BLOCKED
    campaign = program.campaign
    if campaign.status != Campaign.Status.LIVE or not (campaign.starts_at <= at < campaign.ends_at):
        return Invitation.Refusal.NOT_LIVE
    if _existing_customer(code, invitee, group):
        return Invitation.Refusal.EXISTING_CUSTOMER
    return ""


def _depth_of(program: ReferralProgram, customer_id: int) -> int:
    """Where a customer stands in the program's chain: 0 when nobody invited them."""
    depth = (
        Invitation.objects.filter(program=program, invitee_id=customer_id)
        .exclude(status=Invitation.Status.REFUSED)
        .values_list("depth", flat=True)
        .first()
    )
    return depth or 0


def invitation_record(
    *,
    code: InviteCode,
    invitee: Customer,
    at: datetime | None = None,
    staff: Staff | None = None,
    group: CustomerGroup | None = None,
    now: datetime | None = None,
) -> Invitation:
    """Attribute ``invitee`` to the code's inviter (the first code wins, for good).

    Idempotent: the same add or join again (a replayed callback) finds the invitation
    and only moves it on if its goal is met now.
    """
    now = now or timezone.now()
    at = at or now
    program = ReferralProgram.objects.select_related("campaign").get(pk=code.program_id)
    code.program = program
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(program=program, invitee=invitee).first()
        )
        if invitation is None:
            refusal = _refusal(code=code, invitee=invitee, group=group, at=at)
            try:
                with transaction.atomic():
                    invitation = Invitation.objects.create(
                        program=program,
                        code=code,
                        inviter_id=code.inviter_id,
                        invitee=invitee,
                        staff=staff,
                        group=group,
                        depth=_depth_of(program, code.inviter_id) + 1,
                        status=Invitation.Status.REFUSED if refusal else Invitation.Status.PENDING,
                        refusal=refusal,
                        invited_at=at,
                    )
            except IntegrityError:
                # The same event processed twice at once: the other one recorded it.
                invitation = Invitation.objects.select_for_update().get(
                    program=program, invitee=invitee
                )
        if invitation.status == Invitation.Status.PENDING:
            invitation_progress(invitation=invitation, now=now)
    return invitation


def _present(invitation: Invitation) -> bool:
    """The invitee is still there: a friend of a manager, or in the group."""
    if invitation.program.is_group_fission:
        return GroupMember.objects.filter(
            customer_id=invitation.invitee_id, group_id=invitation.group_id, is_active=True
        ).exists()
    return FollowRelation.objects.filter(
        customer_id=invitation.invitee_id, status=FollowRelation.Status.ACTIVE
    ).exists()


def _goal_met(invitation: Invitation) -> bool:
    goal = invitation.program.goal
    if goal in (ReferralProgram.Goal.ADDED, ReferralProgram.Goal.JOINED_GROUP):
        return True
    if goal == ReferralProgram.Goal.VERIFIED:
        verified = Customer.objects.filter(
            pk=invitation.invitee_id, verified_at__isnull=False
        ).exists()
        return (
            verified
            or Conversion.objects.filter(
                customer_id=invitation.invitee_id, kind=Conversion.Kind.VERIFIED
            ).exists()
        )
    return Conversion.objects.filter(
        customer_id=invitation.invitee_id, kind=Conversion.Kind.CARD_OPENED
    ).exists()


@transaction.atomic
def invitation_progress(*, invitation: Invitation, now: datetime | None = None) -> bool:
    """A pending invitation succeeds once its goal is met (and the friend is still
    there); the inviter's tiers are then looked at. True if it succeeded now."""
    now = now or timezone.now()
    if invitation.status != Invitation.Status.PENDING:
        return False
    if not _present(invitation) or not _goal_met(invitation):
        return False
    # A phone the inviter shares may have reached us only now (a bank match, a remark).
    if phone_hashes(invitation.invitee_id) & phone_hashes(invitation.inviter_id):
        Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
            status=Invitation.Status.REFUSED, refusal=Invitation.Refusal.SAME_PHONE
        )
        invitation.status = Invitation.Status.REFUSED
        invitation.refusal = Invitation.Refusal.SAME_PHONE
        return False
    # One inviter's successes are counted one at a time: two friends succeeding at once
    # would otherwise each count without the other and a tier could be missed.
    InviteCode.objects.select_for_update().filter(pk=invitation.code_id).first()
    changed = Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.SUCCEEDED, succeeded_at=now
    )
    if changed != 1:
        return False
    invitation.status, invitation.succeeded_at = Invitation.Status.SUCCEEDED, now
    rewards_evaluate(program=invitation.program, inviter_id=invitation.inviter_id, now=now)
    return True


def invitations_lapse(*, invitations, reason: str, at: datetime | None = None) -> int:
    """These invitees left (deleted the manager, left the group): they stop counting."""
    return invitations.filter(
        status__in=[Invitation.Status.PENDING, Invitation.Status.SUCCEEDED]
    ).update(status=Invitation.Status.LAPSED, lapse=reason, lapsed_at=at or timezone.now())


# --------------------------------------------------------------------------- hook listeners


def on_customer_added(*, customer, staff, state: str = "", added_at=None, relation=None, **_):
    """contacts.hooks.customer_added: an add through an invite code's contact way."""
    if not state.startswith(STATE_PREFIX):
        return None
    code = InviteCode.objects.filter(state=state).first()
    if code is None or code.program.is_group_fission:
        return None
    return invitation_record(code=code, invitee=customer, at=added_at, staff=staff)


def on_follow_relation_ended(*, relation, status: str, at=None, **_) -> int:
    """contacts.hooks.follow_relation_ended: an invitee who deleted the manager (or was
    deleted) stops counting; a transfer to another manager is no reason to."""
    if status not in REMOVED:
        return 0
    left = Invitation.objects.filter(invitee_id=relation.customer_id).exclude(
        program__goal=ReferralProgram.Goal.JOINED_GROUP
    )
    still_followed = (
        FollowRelation.objects.filter(customer_id=relation.customer_id, status__in=LIVE_RELATION)
        .exclude(pk=relation.pk)
        .exists()
    )
    if still_followed:
        left = left.filter(staff_id=relation.staff_id)
    return invitations_lapse(invitations=left, reason=Invitation.Lapse.REMOVED_MANAGER, at=at)


def on_member_joined(*, group, customer, joined_at=None, state: str = "", **_):
    """groups.hooks.member_joined: a join through a group-fission code's join way."""
    if customer is None or not (state or "").startswith(STATE_PREFIX):
        return None
    code = InviteCode.objects.filter(state=state).first()
    if code is None or not code.program.is_group_fission:
        return None
    return invitation_record(code=code, invitee=customer, at=joined_at, group=group)


def on_member_left(*, group, customer, left_at=None, **_) -> int:
    """groups.hooks.member_left: a friend invited into this group left it."""
    if customer is None:
        return 0
    return invitations_lapse(
        invitations=Invitation.objects.filter(invitee=customer, group=group),
        reason=Invitation.Lapse.LEFT_GROUP,
        at=left_at,
    )


# --------------------------------------------------------------------------- conversions


def _customer_named(*, external_userid: str = "", customer_no: str = "") -> Customer:
    if external_userid:
        customers = Customer.objects.filter(external_userid=external_userid)
    elif customer_no:
        customers = Customer.objects.filter(bank_record__customer_no=customer_no)
    else:
        raise DomainError("customer_required", _("请提供 external_userid 或行内客户号"))
    customer = customers.exclude(status=Customer.Status.ERASED).order_by("pk").first()
    if customer is None:
        raise DomainError("customer_not_found", _("客户不存在"), status=404)
    return customer


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
    customer = _customer_named(external_userid=external_userid, customer_no=customer_no)
    return invite_code_ensure(program=program, inviter_id=customer.pk), customer


@dataclass(frozen=True)
class ConversionResult:
    conversion: Conversion
    created: bool
    succeeded: list[Invitation]


def conversion_record(
    *,
    actor,
    kind: str,
    external_userid: str = "",
    customer_no: str = "",
    reference: str = "",
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> ConversionResult:
    """The bank's systems report a customer verified or with a card opened; pending
    invitations of that customer whose goal it is succeed. Reporting it again changes
    nothing (one conversion per customer and kind)."""
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(
        "referral.report_conversions"
    ):
        raise DomainError("forbidden", _("该账号没有回传转化的权限"), status=403)
    if kind not in Conversion.Kind.values:
        raise DomainError(
            "invalid", _("转化类型须为 verified 或 card_opened"), data={"field": "kind"}
        )
    now = now or timezone.now()
    customer = _customer_named(external_userid=external_userid, customer_no=customer_no)
    with transaction.atomic():
        conversion, created = Conversion.objects.get_or_create(
            customer=customer,
            kind=kind,
            defaults={"reference": reference[:64], "occurred_at": occurred_at or now},
        )
        succeeded = []
        pending = (
            Invitation.objects.select_for_update()
            .select_related("program__campaign")
            .filter(invitee=customer, status=Invitation.Status.PENDING, program__goal=kind)
            .order_by("pk")
        )
        for invitation in pending:
            if invitation_progress(invitation=invitation, now=now):
                succeeded.append(invitation)
    return ConversionResult(conversion=conversion, created=created, succeeded=succeeded)


# --------------------------------------------------------------------------- rewards


def successful_invites(*, program: ReferralProgram, inviter_id: int) -> int:
    return Invitation.objects.filter(
        program=program, inviter_id=inviter_id, status=Invitation.Status.SUCCEEDED
    ).count()


def _coupon_grant(reward: ReferralReward, now: datetime) -> None:
    tier = reward.tier
    try:
        with transaction.atomic():
            result = coupon_claim(
                customer_id=reward.inviter_id,
                campaign_id=reward.program.campaign_id,
                template_id=tier.coupon_template_id,
                source=Coupon.Source.API,
                now=now,
            )
    except ClaimRefused as exc:
        ReferralReward.objects.filter(pk=reward.pk).update(
            status=ReferralReward.Status.FAILED, settled_at=now, note=exc.message[:200]
        )
        return
    ReferralReward.objects.filter(pk=reward.pk).update(
        status=ReferralReward.Status.GRANTED, settled_at=now, coupon=result.coupons[0]
    )


@transaction.atomic
def rewards_evaluate(
    *, program: ReferralProgram, inviter_id: int, now: datetime | None = None
) -> list[ReferralReward]:
    """Record the tiers the inviter has reached (each once); coupons are granted now,
    red packets and gifts wait for their day. A cancelled tier reached again is armed
    again. Returns the rewards recorded or armed by this call."""
    now = now or timezone.now()
    count = successful_invites(program=program, inviter_id=inviter_id)
    due_on = add_workdays(_today(now), program.reward_delay_workdays)
    out = []
    for tier in program.tiers.filter(threshold__lte=count).order_by("threshold"):
        reward, created = ReferralReward.objects.get_or_create(
            program=program,
            inviter_id=inviter_id,
            tier=tier,
            defaults={"reached_at": now, "due_on": due_on},
        )
        if created:
            reward.program, reward.tier = program, tier
            if tier.kind == ReferralTier.Kind.COUPON:
                _coupon_grant(reward, now)
            out.append(reward)
        elif reward.status == ReferralReward.Status.CANCELLED:
            armed = ReferralReward.objects.filter(
                pk=reward.pk, status=ReferralReward.Status.CANCELLED
            ).update(
                status=ReferralReward.Status.WAITING,
                reached_at=now,
                due_on=due_on,
                settled_at=None,
                note="",
            )
            if armed:
                out.append(reward)
    return out


def _recheck(program: ReferralProgram, inviter_id: int, now: datetime) -> int:
    """Lapse the inviter's successful invites whose friend is gone though no callback
    said so (a lost callback, a relation ended by the nightly reconcile)."""
    lapsed = 0
    rows = Invitation.objects.select_related("program").filter(
        program=program, inviter_id=inviter_id, status=Invitation.Status.SUCCEEDED
    )
    for invitation in rows:
        if not _present(invitation):
            reason = (
                Invitation.Lapse.LEFT_GROUP
                if program.is_group_fission
                else Invitation.Lapse.REMOVED_MANAGER
            )
            lapsed += invitations_lapse(
                invitations=Invitation.objects.filter(pk=invitation.pk), reason=reason, at=now
            )
    return lapsed


def reward_settle(*, reward_id: int, now: datetime | None = None) -> str | None:
    """A waiting reward on its day: counted again, then paid (to the ledger or to
    fulfilment) or cancelled. Returns the new status, or None if it was not waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        reward = (
            ReferralReward.objects.select_for_update(skip_locked=True)
            .select_related("program__campaign", "tier", "inviter")
            .filter(pk=reward_id, status=ReferralReward.Status.WAITING)
            .first()
        )
        if reward is None:
            return None
        program, tier = reward.program, reward.tier
        _recheck(program, reward.inviter_id, now)
        count = successful_invites(program=program, inviter_id=reward.inviter_id)
        facts = customer_facts(customer_id=reward.inviter_id, config=None)
        if facts is None or facts.blocked or facts.status == Customer.Status.ERASED:
            # Blacklisted (or erased) since the tier was reached: nothing is paid.
            reward.status = ReferralReward.Status.CANCELLED
            reward.note = _("邀请人已被列入黑名单")
        elif count < tier.threshold:
            reward.status = ReferralReward.Status.CANCELLED
            reward.note = _("发放日成功邀请 %(n)s 人，不足 %(t)s 人") % {
                "n": count,
                "t": tier.threshold,
            }
        elif tier.kind == ReferralTier.Kind.RED_PACKET:
            code = InviteCode.objects.filter(program=program, inviter_id=reward.inviter_id).first()
            staff = code.staff if code is not None else None
            try:
                reward.payout = payout_schedule(
                    campaign=program.campaign,
                    customer=reward.inviter,
                    amount_fen=tier.amount_fen,
                    reason="referral_reward",
                    source_key=f"referral:tier:{reward.pk}",
                    delay_workdays=0,
                    conditions=("friend",) if staff is not None else (),
                    staff=staff,
                    note=_("老带新：成功邀请 %(t)s 人") % {"t": tier.threshold},
                    now=now,
                )
                reward.status = ReferralReward.Status.GRANTED
            except DomainError as exc:
                reward.status, reward.note = ReferralReward.Status.FAILED, exc.message
        else:
            reward.status = ReferralReward.Status.GRANTED
            reward.note = _("待发放礼品：%(gift)s") % {"gift": tier.gift_name}
        reward.settled_at = now
        reward.note = str(reward.note)[:200]
        reward.save(update_fields=["status", "note", "settled_at", "payout"])
        return reward.status


def rewards_settle_due(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Every waiting reward whose day has come (a periodic job)."""
    now = now or timezone.now()
    ids = list(
        ReferralReward.objects.filter(status=ReferralReward.Status.WAITING, due_on__lte=_today(now))
        .order_by("due_on", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for reward_id in ids:
        status = reward_settle(reward_id=reward_id, now=now)
        if status:
            counts[status] = counts.get(status, 0) + 1
    return counts


@transaction.atomic
def gift_fulfil(*, reward_id: int, actor=None, now: datetime | None = None) -> bool:
    """Ops handed the gift over."""
    return bool(
        ReferralReward.objects.filter(
            pk=reward_id,
            status=ReferralReward.Status.GRANTED,
            tier__kind=ReferralTier.Kind.GIFT,
            gift_fulfilled_at__isnull=True,
        ).update(gift_fulfilled_at=now or timezone.now())
    )


def invitations_reconcile(*, now: datetime | None = None, limit: int = 2000) -> int:
    """Pending invitations whose goal may be met by now (e.g. the friend was verified by
    the bank-file match rather than a report): a periodic job. How many succeeded."""
    now = now or timezone.now()
    done = 0
    pending = (
        Invitation.objects.select_related("program__campaign")
        .filter(status=Invitation.Status.PENDING)
        .filter(Q(program__campaign__status=Campaign.Status.LIVE))
        .order_by("pk")[:limit]
    )
    for invitation in pending:
        done += int(invitation_progress(invitation=invitation, now=now))
    return done


def invitations_from_relations(*, limit: int = 2000) -> int:
    """Adds through an invite code that no callback told us of (a lost callback; the
    nightly reconcile then brings the relation with its ``state``): attributed as the
    callback would have. A periodic job; how many invitations it recorded."""
    from django.db.models import Exists, OuterRef

    codes = InviteCode.objects.filter(
        state=OuterRef("state"), program__campaign__status=Campaign.Status.LIVE
    )
    known = Invitation.objects.filter(
        invitee_id=OuterRef("customer_id"), code__state=OuterRef("state")
    )
    relations = (
        FollowRelation.objects.filter(state__startswith=STATE_PREFIX)
        .filter(Exists(codes))
        .exclude(Exists(known))
        .select_related("customer", "staff")
        .order_by("pk")[:limit]
    )
    recorded = 0
    for relation in relations:
        code = InviteCode.objects.select_related("program").get(state=relation.state)
        if code.program.is_group_fission:
            continue
        invitation_record(
            code=code, invitee=relation.customer, at=relation.added_at, staff=relation.staff
        )
        recorded += 1
    return recorded
