"""The blacklist ops keep against coupon hunters (羊毛党): phones (by hash) and customers."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.crypto import mask_phone, phone_hash, phone_normalize
from contacts.models import Customer
from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from ..models import Blacklist
from .lifecycle import _require_editor


def _audited(actor, entry: Blacklist, operation: str, request) -> None:
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=entry,
        request=request,
        details={"operation": operation, "kind": entry.kind, "reason": entry.reason[:200]},
    )


def blacklist_add(
    *, actor, reason: str, phone: str = "", customer_id: int | None = None, request=None
) -> Blacklist:
    """Block a phone (stored only as its keyed hash and masked) or a customer."""
    _require_editor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("invalid", _("请填写拉黑原因"), data={"field": "reason"})
    if phone:
        normalized = phone_normalize(phone)
        if normalized is None:
            raise DomainError("phone_invalid", _("手机号格式不正确"), data={"field": "phone"})
        entry = Blacklist(
            kind=Blacklist.Kind.PHONE,
            phone_hash=phone_hash(normalized),
            phone_masked=mask_phone(normalized),
        )
    elif customer_id is not None:
        if not Customer.objects.filter(pk=customer_id).exists():
            raise DomainError("not_found", _("客户不存在"), status=404)
        entry = Blacklist(kind=Blacklist.Kind.CUSTOMER, customer_id=customer_id)
    else:
        raise DomainError("invalid", _("请填写手机号或选择客户"), data={"field": "phone"})
    entry.reason = reason[:200]
    entry.created_by = actor
    try:
        with transaction.atomic():
            entry.save()
            _audited(actor, entry, "blacklist_add", request)
    except IntegrityError:
        raise DomainError("already_blacklisted", _("已在黑名单中"), status=409) from None
    return entry


@transaction.atomic
def blacklist_lift(*, actor, entry_id: int, request=None) -> Blacklist:
    _require_editor(actor)
    entry = Blacklist.objects.select_for_update().get(pk=entry_id)
    if entry.is_active:
        entry.is_active = False
        entry.lifted_at = timezone.now()
        entry.save(update_fields=["is_active", "lifted_at"])
        _audited(actor, entry, "blacklist_lift", request)
    return entry
