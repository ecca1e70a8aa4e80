"""Matching WeCom customers to bank records and verifying them (D4): by remark
mobile (set-based, one statement), by a manager's binding, or by the customer
confirming their phone on the H5 page. Phones are compared by their keyed hash.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from scrm.core.access import viewer_scope
from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from .crypto import mask_phone, phone_hash, phone_normalize
from .models import BankRecord, Customer, FollowRelation, TimelineEntry
from .selectors import customers_visible_to, staff_of

VERIFY_TIMELINE_KIND = "verified"
_H5_VERIFY_SALT = "contacts.h5.verify"
_H5_ATTEMPTS = 5
# Manager bind attempts per person per hour (D4), as on the H5 page: too few to probe phones.
_BIND_ATTEMPTS = 5


def bank_records_match_remark_mobiles() -> int:
    """Verify every unverified customer with an active relation whose remark mobile
    hashes to a bank record's phone hash (set-based; one statement)."""
    summary = _("已认证为行内客户（备注手机号）")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH cand AS (
                SELECT DISTINCT ON (f.customer_id) f.customer_id, br.id AS record_id, br.ring
                FROM contacts_followrelation f
                CROSS JOIN LATERAL unnest(f.remark_mobile_hashes) AS h(hash)
                JOIN contacts_bankrecord br ON br.phone_hash = h.hash
                JOIN contacts_customer c ON c.id = f.customer_id
                WHERE f.status = 'active' AND c.verified_at IS NULL AND c.status <> 'erased'
                ORDER BY f.customer_id, br.customer_no
            ), verified AS (
                UPDATE contacts_customer c
                SET bank_record_id = cand.record_id, ring = cand.ring, verified_at = now(),
                    verify_method = %s, updated_at = now()
                FROM cand WHERE c.id = cand.customer_id
                RETURNING c.id, cand.record_id
            )
            INSERT INTO contacts_timelineentry (customer_id, at, kind, summary, data, dedupe_key)
            SELECT v.id, now(), %s, %s,
                   jsonb_build_object('method', %s::text, 'bank_record', v.record_id),
                   'verified:' || v.id
            FROM verified v
            ON CONFLICT (dedupe_key) DO NOTHING
            """,
            [
                Customer.VerifyMethod.REMARK_MOBILE,
                VERIFY_TIMELINE_KIND,
                summary,
                Customer.VerifyMethod.REMARK_MOBILE,
            ],
        )
        return cursor.rowcount


_METHOD_SUMMARY = {
    Customer.VerifyMethod.REMARK_MOBILE: gettext_noop("已认证为行内客户（备注手机号）"),
    Customer.VerifyMethod.MANAGER_BINDING: gettext_noop("已认证为行内客户（客户经理绑定）"),
    Customer.VerifyMethod.H5_PHONE: gettext_noop("已认证为行内客户（客户确认手机号）"),
}


@transaction.atomic
def customer_verify(*, customer: Customer, record: BankRecord, method: str, staff=None) -> Customer:
    """Link a customer to a bank record, take its ring (D1), mark verified (D4)."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == Customer.Status.ERASED:
        raise DomainError("customer_erased", _("该客户的个人信息已删除"))
    if customer.verified_at and customer.bank_record_id not in (None, record.pk):
        raise DomainError("already_verified", _("该客户已认证为其他行内客户"))
    if customer.verified_at and customer.bank_record_id == record.pk:
        return customer
    now = timezone.now()
    customer.bank_record = record
    customer.ring = record.ring
    customer.verified_at = now
    customer.verify_method = method
    customer.save(
        update_fields=["bank_record", "ring", "verified_at", "verify_method", "updated_at"]
    )
    TimelineEntry.objects.get_or_create(
        dedupe_key=f"verified:{customer.pk}",
        defaults={
            "customer": customer,
            "at": now,
            "kind": VERIFY_TIMELINE_KIND,
            "staff": staff,
            "summary": _(_METHOD_SUMMARY[method]),
            "data": {"method": method, "bank_record": record.pk},
        },
    )
    return customer


@transaction.atomic
def follow_set_remark_mobiles(*, follow: FollowRelation, mobiles: Iterable[str]) -> FollowRelation:
    """Store WeCom's remark_mobiles for a relation (encrypted + hashed) and verify
    the customer if one of them is in the bank's records (D4)."""
    normalized = sorted({p for p in (phone_normalize(m) for m in mobiles) if p})
    follow.remark_mobiles = ",".join(normalized)
    follow.remark_mobile_hashes = [phone_hash(p) for p in normalized]
    follow.save(update_fields=["remark_mobiles", "remark_mobile_hashes", "updated_at"])
    if normalized and follow.status == FollowRelation.Status.ACTIVE:
        customer = follow.customer
        if customer.verified_at is None and customer.status != Customer.Status.ERASED:
            record = (
                BankRecord.objects.filter(phone_hash__in=follow.remark_mobile_hashes)
                .order_by("customer_no")
                .first()
            )
            if record is not None:
                customer_verify(
                    customer=customer,
                    record=record,
                    method=Customer.VerifyMethod.REMARK_MOBILE,
                    staff=follow.staff,
                )
    return follow


def bank_records_in_scope_of(user) -> QuerySet[BankRecord]:
    """Bank records a person may bind customers to: ops every record; branch managers
    and customer managers the records of their own branch (the record's ``branch``).
    Records of no known branch are left to ops. The scope is the one access rule's
    (``scrm.core.access.viewer_scope``), applied to the record's branch."""
    qs = BankRecord.objects.all()
    scope = viewer_scope(user)
    if scope.everything:
        return qs
    staff = staff_of(user)
    if scope.nothing or staff is None or staff.branch_id is None:
        return qs.none()
    return qs.filter(branch_id=staff.branch_id)


def _attempt_count(key: str, *, limit: int, window_s: int = 3600) -> None:
    """Count one attempt under ``key``; past ``limit`` in the window answer 429.
    The counter lives in the cache (Redis), so it survives a rolled-back request."""
    cache.add(key, 0, timeout=window_s)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ran out between add and incr
        cache.add(key, 1, timeout=window_s)
        count = 1
    if count > limit:
        raise DomainError("too_many_attempts", _("尝试次数过多，请一小时后再试"), status=429)


def _bind_input_matches(record: BankRecord, *, customer_no: str, hashed_phone: str) -> bool:
    if customer_no:
        return record.customer_no == customer_no
    return bool(hashed_phone) and record.phone_hash == hashed_phone


def customer_bind_by_manager(
    *, user, customer_id: int, customer_no: str = "", phone: str = "", request=None
) -> Customer:
    """A manager binds one of their customers by customer number or phone (D4).

    Only records in the person's scope (``bank_records_in_scope_of``) and not bound to
    another customer can be bound; an out-of-scope record gets the same answer as a
    missing one. Attempts are limited per person, and every attempt and its result is
    audited, so the form cannot be used to find out whose phone is a bank customer's."""
    customer_no = (customer_no or "").strip()
    phone = (phone or "").strip()
    details: dict = {"operation": "bank_bind", "by": "customer_no" if customer_no else "phone"}
    if customer_no:
        details["customer_no"] = customer_no[:32]
    elif phone:
        details["phone"] = mask_phone(phone_normalize(phone) or phone[:20])
    else:
        details["by"] = ""
    try:
        with transaction.atomic():
            customer = _customer_bind_in_scope(
                user=user, customer_id=customer_id, customer_no=customer_no, phone=phone
            )
            audit_record(
                actor=user,
                action=AuditEvent.Action.CHANGE,
                target=("contacts.customer", customer_id),
                request=request,
                details={**details, "result": "bound", "bank_record": customer.bank_record_id},
            )
    except DomainError as exc:
        # Written after the rollback, so a refused attempt stays on record.
        audit_record(
            actor=user,
            action=AuditEvent.Action.CHANGE,
            target=("contacts.customer", customer_id),
            request=request,
            details={**details, "result": exc.code},
        )
        raise
    return customer


def _customer_bind_in_scope(*, user, customer_id: int, customer_no: str, phone: str) -> Customer:
    customer = customers_visible_to(user).filter(pk=customer_id).first()
    if customer is None:
        raise DomainError("not_found", _("客户不存在或无权查看"), status=404)
    hashed_phone = ""
    if not customer_no:
        if not phone:
            raise DomainError("binding_missing", _("请输入客户号或手机号"))
        normalized = phone_normalize(phone)
        if normalized is None:
            raise DomainError("phone_invalid", _("手机号格式不正确"))
        hashed_phone = phone_hash(normalized)
    if customer.status == Customer.Status.ERASED:
        raise DomainError("customer_erased", _("该客户的个人信息已删除"))
    # Decided before any lookup: otherwise "already bound elsewhere" versus "not found"
    # would tell whether the number or phone is a bank customer's.
    if customer.verified_at and customer.bank_record_id is not None:
        if _bind_input_matches(
            customer.bank_record, customer_no=customer_no, hashed_phone=hashed_phone
        ):
            return customer
        raise DomainError("already_verified", _("该客户已认证为其他行内客户"))
    _attempt_count(f"bank-bind-attempts:{user.pk}", limit=_BIND_ATTEMPTS)
    records = bank_records_in_scope_of(user)
    if customer_no:
        records = records.filter(customer_no=customer_no)
    else:
        records = records.filter(phone_hash=hashed_phone).order_by("customer_no")
    record = records.select_for_update(of=("self",)).first()
    if record is None:
        raise DomainError("bank_record_not_found", _("未找到对应的行内客户"), status=404)
    if Customer.objects.filter(bank_record=record).exclude(pk=customer.pk).exists():
        raise DomainError(
            "bank_record_taken", _("该行内客户已绑定其他客户，请联系运营核实"), status=409
        )
    return customer_verify(
        customer=customer,
        record=record,
        method=Customer.VerifyMethod.MANAGER_BINDING,
        staff=staff_of(user),
    )


def signed_customer_id(data) -> int | None:
    """The customer id of a signed H5 link payload (``{"c": <id>}``), or None when the
    payload has another shape (an old or hand-made link)."""
    if not isinstance(data, dict):
        return None
    pk = data.get("c")
    if type(pk) is not int or pk <= 0:  # bool is an int subclass: excluded on purpose
        return None
    return pk


def customer_verify_link_token(*, customer: Customer) -> str:
    """The signed token of a customer's H5 verification link (sent by their manager)."""
    return signing.dumps({"c": customer.pk}, salt=_H5_VERIFY_SALT, compress=True)


def customer_from_verify_token(token: str) -> Customer:
    try:
        data = signing.loads(token, salt=_H5_VERIFY_SALT, max_age=settings.H5_LINK_MAX_AGE_S)
    except signing.SignatureExpired as exc:
        raise DomainError("link_expired", _("链接已过期，请联系您的客户经理重新发送")) from exc
    except signing.BadSignature as exc:
        raise DomainError("link_invalid", _("链接无效")) from exc
    pk = signed_customer_id(data)
    customer = Customer.objects.filter(pk=pk).first() if pk is not None else None
    if customer is None or customer.status == Customer.Status.ERASED:
        raise DomainError("link_invalid", _("链接无效"))
    return customer


def customer_verify_by_phone(*, token: str, phone: str) -> Customer:
    """The customer confirms their phone on the H5 page; matched by hash (D4).
    A few attempts per link, so the page cannot be used to probe phone numbers."""
    customer = customer_from_verify_token(token)
    if customer.verified_at:
        return customer
    _attempt_count(f"h5-verify-attempts:{customer.pk}", limit=_H5_ATTEMPTS)
    normalized = phone_normalize(phone)
    if normalized is None:
        raise DomainError("phone_invalid", _("手机号格式不正确"))
    record = BankRecord.objects.filter(phone_hash=phone_hash(normalized)).first()
    if record is None:
        raise DomainError(
            "bank_record_not_found", _("未找到该手机号对应的行内客户，请联系您的客户经理")
        )
    return customer_verify(customer=customer, record=record, method=Customer.VerifyMethod.H5_PHONE)
