"""What the referral services share: the state prefix, the count of successful
invites, whether an invitee is still there, lapses, naming a customer."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Customer, FollowRelation
from groups.models import GroupMember
from scrm.core.errors import DomainError
from scrm.core.workdays import SHANGHAI

from ..models import (
    Invitation,
    ReferralProgram,
)

STATE_PREFIX = "rf"
STATE_MAX = 30
# WeCom's createtime is whole seconds and its clock is not ours: a customer first added
# this long before the code was made is still taken as new.
CLOCK_SKEW = timedelta(seconds=60)
LIVE_RELATION = (FollowRelation.Status.ACTIVE, FollowRelation.Status.HALF)
REMOVED = (FollowRelation.Status.REMOVED_BY_CUSTOMER, FollowRelation.Status.REMOVED_BY_STAFF)


def local_today(now: datetime):
    return now.astimezone(SHANGHAI).date()


def customer_named(*, external_userid: str = "", customer_no: str = "") -> Customer:
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


def successful_invites(*, program: ReferralProgram, inviter_id: int) -> int:
    return Invitation.objects.filter(
        program=program, inviter_id=inviter_id, status=Invitation.Status.SUCCEEDED
    ).count()


def invitee_present(invitation: Invitation) -> bool:
    """The invitee is still there: a friend of a manager, or in the group."""
    if invitation.program.is_group_fission:
        return GroupMember.objects.filter(
            customer_id=invitation.invitee_id, group_id=invitation.group_id, is_active=True
        ).exists()
    return FollowRelation.objects.filter(
        customer_id=invitation.invitee_id, status=FollowRelation.Status.ACTIVE
    ).exists()


def invitations_lapse(*, invitations, reason: str, at: datetime | None = None) -> int:
    """These invitees left (deleted the manager, left the group): they stop counting."""
    return invitations.filter(
        status__in=[Invitation.Status.PENDING, Invitation.Status.SUCCEEDED]
    ).update(status=Invitation.Status.LAPSED, lapse=reason, lapsed_at=at or timezone.now())
