"""The bank's systems report conversions (verified, card opened): pending invitations
whose goal it is succeed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError

from ..models import (
    Conversion,
    Invitation,
)
from .chain import invitation_progress
from .common import customer_named


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
    customer = customer_named(external_userid=external_userid, customer_no=customer_no)
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
