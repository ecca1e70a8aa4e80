"""Announcing a live campaign to its audience: one 1:1 WeCom message per customer,
from their manager, carrying the customer's personal claim link (D7, D10).

Who may be announced to is decided twice: when the announcements are prepared
and again just before each is sent, so a customer who opted out of marketing, or
withdrew their consent for the campaign's product category, in between is never
sent it. No WeCom call runs under a row lock: the row is claimed and committed,
WeCom is called, the result is recorded in a second short transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Customer, FollowRelation, Staff
from groups.models import CustomerGroup, GroupMember
from scrm.content.rules import VAR_CUSTOMER_NAME, VAR_MANAGER_NAME
from scrm.content.selectors import content_get_approved
from scrm.content.services import content_message_build
from scrm.core.errors import DomainError
from scrm.wecom.adapter import wecom
from scrm.wecom.errors import WeComPermanentError

from ..links import claim_url
from ..models import Announcement, Blacklist, Campaign, CampaignContact
from .claims import campaign_config, regions_with_descendants, variant_for
from .consent import customer_is_marketable, customers_marketable
from .lifecycle import _require_editor

UNCERTAIN_AFTER = timedelta(minutes=10)
RESEND_PENDING_AFTER = timedelta(minutes=5)


def campaign_audience(campaign: Campaign) -> QuerySet[Customer]:
    """The customers ``campaign`` may be announced to: in its groups, pools or regions,
    verified when it is verified-only, not opted out, consenting to its product
    category, not blacklisted, and with a manager to send it."""
    qs = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if campaign.verified_only:
        qs = qs.filter(verified_at__isnull=False)
    groups = list(campaign.audience_groups.values_list("pk", flat=True))
    pools = list(campaign.audience_pools.values_list("pk", flat=True))
    regions = regions_with_descendants(campaign.audience_regions.values_list("pk", flat=True))
    if groups or pools or regions:
        where = Q(group_id__in=groups) | Q(group__pool_id__in=pools)
        where |= Q(group__region_id__in=regions) | Q(group__pool__region_id__in=regions)
        member = GroupMember.objects.filter(
            where,
            customer_id=OuterRef("pk"),
            is_active=True,
            group__status=CustomerGroup.Status.NORMAL,
        )
        qs = qs.filter(Exists(member))
    qs = customers_marketable(qs, category=campaign.product_category)
    blocked = Blacklist.objects.filter(is_active=True).filter(
        Q(kind=Blacklist.Kind.CUSTOMER, customer_id=OuterRef("pk"))
        | Q(
            kind=Blacklist.Kind.PHONE,
            phone_hash=OuterRef("bank_record__phone_hash"),
        )
    )
    return qs.exclude(Exists(blocked)).filter(Exists(_active_follow()))


def _active_follow():
    return FollowRelation.objects.filter(
        customer_id=OuterRef("pk"),
        status=FollowRelation.Status.ACTIVE,
        staff__status=Staff.Status.ACTIVE,
    )


def _sender_of(customer_id: int) -> Staff | None:
    follow = (
        FollowRelation.objects.filter(
            customer_id=customer_id,
            status=FollowRelation.Status.ACTIVE,
            staff__status=Staff.Status.ACTIVE,
        )
        .select_related("staff")
        .order_by("-added_at", "-pk")
        .first()
    )
    return follow.staff if follow else None


def campaign_announce(*, actor, campaign_id: int, now: datetime | None = None) -> int:
    """Prepare one announcement per customer of the audience not announced to yet,
    and send them (on commit). Returns how many were prepared."""
    _require_editor(actor)
    now = now or timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise DomainError("not_found", _("活动不存在"), status=404)
    if campaign.status != Campaign.Status.LIVE:
        raise DomainError("campaign_not_live", _("只有进行中的活动可以发送通知"), status=409)
    if campaign.announcement_id is None:
        raise DomainError("no_announcement", _("活动没有设置通知内容"), status=409)
    content_get_approved(content_id=campaign.announcement_id)
    config = campaign_config(campaign_id)
    already = Announcement.objects.filter(campaign_id=campaign_id, customer_id=OuterRef("pk"))
    targets = list(
        campaign_audience(campaign).exclude(Exists(already)).values_list("pk", flat=True)
    )
    created: list[int] = []
    with transaction.atomic():
        for customer_id in targets:
            announcement, new = Announcement.objects.get_or_create(
                campaign_id=campaign_id,
                customer_id=customer_id,
                defaults={"staff": _sender_of(customer_id)},
            )
            if not new:
                continue
            created.append(announcement.pk)
            variant = variant_for(config, customer_id) if config else None
            contact, _c = CampaignContact.objects.get_or_create(
                campaign_id=campaign_id,
                customer_id=customer_id,
                defaults={"variant_id": variant.id if variant else None, "first_contact_at": now},
            )
            CampaignContact.objects.filter(pk=contact.pk, targeted_at__isnull=True).update(
                targeted_at=now
            )
        transaction.on_commit(lambda: _enqueue(created))
    return len(created)


def _enqueue(ids: list[int]) -> None:
    from ..tasks import announcement_send  # tasks import services, not the reverse at load

    for pk in ids:
        announcement_send.delay(pk)


def _finish(pk: int, status: str, *, reason: str = "", msgid: str = "") -> str:
    updates = {"status": status, "reason": reason[:64]}
    if status == Announcement.Status.SENT:
        updates.update(msgid=msgid[:64], sent_at=timezone.now())
    Announcement.objects.filter(pk=pk, status=Announcement.Status.CALLING).update(**updates)
    return status


def _link_desc(kind: str) -> str:
    """The line under the campaign's title on the link card the customer receives."""
    return {
        Campaign.Kind.LOTTERY: _("点击参与抽奖"),
        Campaign.Kind.REFERRAL: _("点击邀请好友，领取奖励"),
        Campaign.Kind.RED_PACKET: _("点击查看红包活动"),
    }.get(kind, _("点击领取您的专属优惠"))


def announcement_send(*, announcement_id: int) -> str:
    """Send one announcement through the customer's manager. Returns its final status;
    a retryable WeCom error puts it back to pending and is raised for a retry."""
    claimed = Announcement.objects.filter(
        pk=announcement_id, status=Announcement.Status.PENDING
    ).update(status=Announcement.Status.CALLING, called_at=timezone.now())
    if not claimed:
        return "not_pending"
    announcement = Announcement.objects.select_related("campaign", "customer", "staff").get(
        pk=announcement_id
    )
    campaign, customer = announcement.campaign, announcement.customer
    if campaign.status != Campaign.Status.LIVE:
        return _finish(announcement.pk, Announcement.Status.SKIPPED, reason="campaign_not_live")
    # Checked again right before sending: the customer may have opted out meanwhile.
    if not customer_is_marketable(customer_id=customer.pk, category=campaign.product_category):
        return _finish(announcement.pk, Announcement.Status.SKIPPED, reason="not_marketable")
    staff = _sender_of(customer.pk)
    if staff is None:
        return _finish(announcement.pk, Announcement.Status.SKIPPED, reason="no_manager")
    try:
        version = content_get_approved(content_id=campaign.announcement_id)
        payload = content_message_build(
            version=version,
            variables={VAR_CUSTOMER_NAME: customer.name, VAR_MANAGER_NAME: staff.name},
            customer_id=customer.pk,
        )
    except DomainError as exc:
        return _finish(announcement.pk, Announcement.Status.FAILED, reason=exc.code)
    link = {
        "msgtype": "link",
        "link": {
            "title": campaign.title[:40],
            "desc": _link_desc(campaign.kind),
            "url": claim_url(customer_id=customer.pk, campaign_id=campaign.pk),
        },
    }
    payload["attachments"] = [*payload.get("attachments", [])[:8], link]
    try:
        result = wecom.msg_template_add(
            chat_type="single",
            sender=staff.userid,
            external_userid=[customer.external_userid],
            **payload,
        )
    except WeComPermanentError as exc:
        return _finish(announcement.pk, Announcement.Status.FAILED, reason=f"wecom_{exc.errcode}")
    except Exception:
        Announcement.objects.filter(pk=announcement.pk, status=Announcement.Status.CALLING).update(
            status=Announcement.Status.PENDING
        )
        raise
    return _finish(announcement.pk, Announcement.Status.SENT, msgid=result.get("msgid", ""))


def announcements_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Pending announcements whose task was lost are sent again; one stuck in the call
    (a worker died mid-call) is marked failed, never sent twice automatically."""
    now = now or timezone.now()
    stuck = Announcement.objects.filter(
        status=Announcement.Status.CALLING, called_at__lt=now - UNCERTAIN_AFTER
    ).update(status=Announcement.Status.FAILED, reason="uncertain")
    pending = list(
        Announcement.objects.filter(
            status=Announcement.Status.PENDING, created_at__lt=now - RESEND_PENDING_AFTER
        ).values_list("pk", flat=True)[:1000]
    )
    _enqueue(pending)
    return {"failed_uncertain": stuck, "resent": len(pending)}
