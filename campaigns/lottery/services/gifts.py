"""Physical gifts won in a lottery: ops record that one was handed to the customer."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.services import lifecycle
from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from ..models import Draw, Prize


@transaction.atomic
def gift_hand_over(*, actor, draw_id: int, request=None) -> Draw:
    """Once per won gift (a guarded update), audited with who and when."""
    lifecycle._require_editor(actor)
    now = timezone.now()
    changed = Draw.objects.filter(
        pk=draw_id, prize__kind=Prize.Kind.GIFT, gift_handed_over_at__isnull=True
    ).update(gift_handed_over_at=now, gift_handed_over_by=actor)
    draw = Draw.objects.select_related("prize").filter(pk=draw_id).first()
    if draw is None:
        raise DomainError("not_found", _("抽奖记录不存在"), status=404)
    if not changed:
        if draw.prize.kind != Prize.Kind.GIFT:
            raise DomainError("not_a_gift", _("该抽奖记录不是实物礼品"), status=409)
        raise DomainError("already_handed_over", _("该礼品已登记交付"), status=409)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=draw,
        request=request,
        details={"operation": "gift_hand_over", "prize": draw.prize.name},
    )
    return draw
