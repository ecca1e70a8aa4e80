"""The invite chain: an add or a join through a code attributed to its inviter (or
refused), success when the program's goal is met, the hooks contacts and groups call,
and the periodic catch-up."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.behaviour import friend_invited_record
from campaigns.services.claims import (
    customer_facts,
)
from contacts.models import Customer, FollowRelation, Staff
from groups.models import CustomerGroup, GroupMember

from ..models import (
    Conversion,
    Invitation,
    InviteCode,
    ReferralProgram,
)
from .common import (
    CLOCK_SKEW,
    LIVE_RELATION,
    REMOVED,
    STATE_PREFIX,
    invitations_lapse,
    invitee_present,
)
from .rewards import rewards_evaluate


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
    if not invitee_present(invitation) or not _goal_met(invitation):
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
    friend_invited_record(invitation=invitation)
    rewards_evaluate(program=invitation.program, inviter_id=invitation.inviter_id, now=now)
    return True


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
