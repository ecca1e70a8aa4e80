"""Privacy (D14, PIPL): revealing, exporting, erasing personal data and marketing opt-out.

Every reveal, export and erasure writes an audit record in the same transaction.
Lists show phones and ID numbers masked; the plain text needs ``contacts.reveal_pii``.
"""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from .bank import signed_customer_id
from .crypto import mask_id_number, mask_phone
from .models import Customer, FollowRelation, TimelineEntry
from .selectors import customers_visible_to

REVEAL_PERMISSION = "contacts.reveal_pii"
EXPORT_PERMISSION = "contacts.export_customers"
ERASE_PERMISSION = "contacts.erase_customer"
_UNSUBSCRIBE_SALT = "contacts.h5.unsubscribe"
ERASED_NAME = ""


def customer_phones(customer: Customer) -> list[str]:
    """Plain phones known for a customer: the bank record's, then remark mobiles."""
    phones: list[str] = []
    if customer.bank_record_id and customer.bank_record.phone:
        phones.append(customer.bank_record.phone)
    for follow in customer.follows.all():
        for p in (follow.remark_mobiles or "").split(","):
            if p and p not in phones:
                phones.append(p)
    return phones


def customer_masked_pii(customer: Customer) -> dict:
    record = customer.bank_record if customer.bank_record_id else None
    return {
        "phones": [mask_phone(p) for p in customer_phones(customer)],
        "id_number": mask_id_number(record.id_number) if record else "",
        "customer_no": record.customer_no if record else "",
    }


def _visible_or_404(user, customer_id: int) -> Customer:
    customer = (
        customers_visible_to(user)
        .select_related("bank_record")
        .prefetch_related("follows")
        .filter(pk=customer_id)
        .first()
    )
    if customer is None:
        raise DomainError("not_found", _("客户不存在或无权查看"), status=404)
    return customer


@transaction.atomic
def customer_pii_reveal(*, user, customer_id: int, request=None) -> dict:
    """Plain phones and ID number of one customer the user may see; audited (D14)."""
    if not user.has_perm(REVEAL_PERMISSION):
        raise DomainError("forbidden", _("没有查看明文的权限"), status=403)
    customer = _visible_or_404(user, customer_id)
    record = customer.bank_record if customer.bank_record_id else None
    revealed = {
        "phones": customer_phones(customer),
        "id_number": record.id_number if record else "",
        "customer_no": record.customer_no if record else "",
    }
    audit_record(
        actor=user,
        action=AuditEvent.Action.REVEAL,
        target=customer,
        request=request,
        details={"fields": [k for k, v in revealed.items() if v]},
    )
    return revealed


EXPORT_HEADER = (
    "客户ID",
    "昵称",
    "圈层",
    "首次来源渠道",
    "客户号",
    "手机号",
    "认证时间",
    "添加时间",
)


@transaction.atomic
def customers_export_csv(
    *, user, queryset: QuerySet[Customer], reveal: bool = False, request=None, filters=None
) -> str:
    """CSV of a (filtered) customer list: masked unless the user may reveal; audited.
    ``queryset`` is narrowed to what the user may see whatever the caller passed."""
    if not user.has_perm(EXPORT_PERMISSION):
        raise DomainError("forbidden", _("没有导出客户的权限"), status=403)
    if reveal and not user.has_perm(REVEAL_PERMISSION):
        raise DomainError("forbidden", _("没有查看明文的权限"), status=403)
    visible = customers_visible_to(user).values("pk")
    rows = (
        queryset.filter(pk__in=visible)
        .select_related("bank_record", "first_channel")
        .prefetch_related("follows")
        .order_by("pk")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    count = 0
    for c in rows:
        phones = customer_phones(c)
        phone = phones[0] if phones else ""
        writer.writerow(
            (
                c.external_userid,
                c.name,
                c.get_ring_display(),
                str(c.first_channel or ""),
                c.bank_record.customer_no if c.bank_record_id else "",
                phone if reveal else mask_phone(phone),
                timezone.localtime(c.verified_at).isoformat() if c.verified_at else "",
                timezone.localtime(c.first_added_at).isoformat() if c.first_added_at else "",
            )
        )
        count += 1
    audit_record(
        actor=user,
        action=AuditEvent.Action.EXPORT,
        target="contacts.customer",
        request=request,
        details={"rows": count, "revealed": reveal, "filters": filters or {}},
    )
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


@transaction.atomic
def customer_erase(*, user, customer_id: int, request=None, reason: str = "") -> Customer:
    """PIPL erasure: remove the customer's personal data, keep an anonymous row
    (status ERASED, ring, first channel, dates) so counts by channel stay right."""
    if not user.has_perm(ERASE_PERMISSION):
        raise DomainError("forbidden", _("没有删除客户个人信息的权限"), status=403)
    customer = _visible_or_404(user, customer_id)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == Customer.Status.ERASED:
        return customer
    customer.external_userid = f"erased-{customer.pk}"
    customer.name = ERASED_NAME
    customer.avatar = ""
    customer.unionid = ""
    customer.corp_name = ""
    customer.corp_full_name = ""
    customer.gender = Customer.Gender.UNKNOWN
    customer.bank_record = None
    customer.status = Customer.Status.ERASED
    customer.marketing_opt_out = True
    customer.save()
    FollowRelation.objects.filter(customer=customer).update(
        remark="",
        description="",
        remark_corp_name="",
        remark_mobiles="",
        remark_mobile_hashes=[],
        updated_at=timezone.now(),
    )
    # Keep what happened and when (aggregates), drop the details that can name a person.
    TimelineEntry.objects.filter(customer=customer).update(summary="", data={})
    audit_record(
        actor=user,
        action=AuditEvent.Action.ERASE,
        target=customer,
        request=request,
        details={"reason": reason[:200]},
    )
    return customer


@transaction.atomic
def customer_marketing_opt_out(
    *, customer: Customer, opted_out: bool = True, source: str, actor=None, request=None
) -> Customer:
    """The customer stops (or resumes) marketing messages; SOP and campaign sends skip them."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.marketing_opt_out == opted_out:
        return customer
    customer.marketing_opt_out = opted_out
    customer.save(update_fields=["marketing_opt_out", "updated_at"])
    TimelineEntry.objects.create(
        customer=customer,
        at=timezone.now(),
        kind="marketing_opt_out" if opted_out else "marketing_opt_in",
        summary=_("拒收营销消息") if opted_out else _("恢复接收营销消息"),
        data={"source": source},
    )
    if actor is not None:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=customer,
            request=request,
            details={"marketing_opt_out": opted_out, "source": source},
        )
    return customer


def customer_unsubscribe_token(*, customer: Customer) -> str:
    return signing.dumps({"c": customer.pk}, salt=_UNSUBSCRIBE_SALT, compress=True)


def customer_from_unsubscribe_token(token: str) -> Customer:
    try:
        # Unsubscribe links in old messages must keep working: a long validity.
        data = signing.loads(
            token, salt=_UNSUBSCRIBE_SALT, max_age=max(settings.H5_LINK_MAX_AGE_S, 365 * 86400)
        )
    except signing.BadSignature as exc:
        raise DomainError("link_invalid", _("链接无效")) from exc
    pk = signed_customer_id(data)
    customer = Customer.objects.filter(pk=pk).first() if pk is not None else None
    if customer is None:
        raise DomainError("link_invalid", _("链接无效"))
    return customer
