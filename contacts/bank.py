"""Bank records (D1, D4): loading the bank's customer file and matching WeCom
customers to it.

The file (CSV or XLSX from the admin, or JSON rows from core systems) is
validated row by row: bad rows are reported in Chinese with their line number
and never block the good ones. Good rows are encrypted and hashed in Python in
batches, streamed into a temporary table with ``COPY`` and merged with one
``INSERT … SELECT … ON CONFLICT``. Matching is set-based: customers whose
remark mobiles hash to a record's phone hash are verified in one statement.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from .crypto import encrypt_many, phone_hash, phone_hasher, phone_normalize
from .models import BankRecord, Customer, FollowRelation, TimelineEntry
from .selectors import customers_visible_to, staff_of

# Canonical column → headers accepted in the bank's file (Chinese or English).
COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_no": ("customer_no", "客户号"),
    "name": ("name", "姓名"),
    "phone": ("phone", "手机号", "手机"),
    "id_number": ("id_number", "证件号", "身份证号"),
    "birthday": ("birthday", "生日", "出生日期"),
    "branch": ("branch", "branch_code", "网点", "网点编码"),
    "debit_card": ("debit_card", "本行借记卡"),
    "credit_card": ("credit_card", "本行信用卡", "信用卡"),
    "other_bank_card": ("other_bank_card", "他行卡"),
    "aum_bracket": ("aum_bracket", "aum", "AUM", "AUM区间", "AUM 区间"),
    "product_name": ("product_name", "理财产品"),
    "product_maturity": ("product_maturity", "产品到期日"),
}
_HEADER_TO_COLUMN = {h.strip().lower(): c for c, hs in COLUMNS.items() for h in hs}
_TRUE = {"1", "y", "yes", "true", "是", "有", "已绑定"}
_FALSE = {"", "0", "n", "no", "false", "否", "无", "未绑定"}
_AUM = {v: v for v in BankRecord.AumBracket.values} | {
    str(label): value for value, label in BankRecord.AumBracket.choices
}
# Translated only when a row is wrong: gettext per good row would dominate a big import.
_FLAG_LABELS = {
    "debit_card": gettext_noop("本行借记卡"),
    "credit_card": gettext_noop("本行信用卡"),
    "other_bank_card": gettext_noop("他行卡"),
}
MAX_ERRORS_KEPT = 1000
_COPY_BATCH = 50_000
VERIFY_TIMELINE_KIND = "verified"
_H5_VERIFY_SALT = "contacts.h5.verify"
_H5_ATTEMPTS = 5


@dataclass
class RowError:
    line: int
    customer_no: str
    messages: list[str]

    def as_dict(self) -> dict:
        return {"line": self.line, "customer_no": self.customer_no, "messages": self.messages}


@dataclass
class ImportResult:
    total: int = 0
    created: int = 0
    updated: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    matched: int = 0

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
            "matched": self.matched,
        }


def ring_for(*, debit: bool, credit: bool, other_bank: bool) -> str:
    """D1: own debit card → inner; credit card or another bank's card → middle; else outer."""
    if debit:
        return Customer.Ring.INNER
    if credit or other_bank:
        return Customer.Ring.MIDDLE
    return Customer.Ring.OUTER


# --- reading files ---------------------------------------------------------------


def _canonical(headers: Iterable) -> list[str | None]:
    return [_HEADER_TO_COLUMN.get(str(h or "").strip().lower()) for h in headers]


def rows_from_csv(data: bytes) -> Iterator[dict]:
    """Rows of a CSV file (UTF-8 with or without BOM, or GB18030 as Excel saves it)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return
    columns = _canonical(header)
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        yield {c: v for c, v in zip(columns, values, strict=False) if c}


def rows_from_xlsx(data: bytes) -> Iterator[dict]:
    """Rows of the first sheet of an XLSX workbook."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a bad file
        raise DomainError("file_unreadable", _("无法读取 Excel 文件，请确认是 .xlsx 格式")) from exc
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        columns = _canonical(header)
        for values in rows:
            if values is None or all(v in (None, "") for v in values):
                continue
            yield {c: v for c, v in zip(columns, values, strict=False) if c}
    finally:
        wb.close()


def rows_from_file(*, name: str, data: bytes) -> list[dict]:
    lower = name.lower()
    if lower.endswith(".xlsx"):
        rows = list(rows_from_xlsx(data))
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        rows = list(rows_from_csv(data))
    else:
        raise DomainError("file_type", _("只支持 CSV 或 XLSX 文件"))
    return rows


# --- validating rows ------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores long numbers as floats
    return str(value).strip()


def _date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value).replace("/", "-")
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return date.fromisoformat(text)


def _flag(value) -> bool:
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(text)


def validate_row(row: Mapping) -> tuple[tuple | None, list[str]]:
    """One row → (values for the staging table, []) or (None, Chinese error messages)."""
    errors: list[str] = []
    customer_no = _text(row.get("customer_no"))
    if not customer_no:
        errors.append(_("客户号不能为空"))
    elif len(customer_no) > 32:
        errors.append(_("客户号不能超过32个字符"))
    name = _text(row.get("name"))[:64]
    raw_phone = _text(row.get("phone"))
    phone = phone_normalize(raw_phone) if raw_phone else ""
    if phone is None:
        errors.append(_("手机号格式不正确：%(value)s") % {"value": raw_phone})
    id_number = _text(row.get("id_number")).upper()
    if len(id_number) > 32:
        errors.append(_("证件号不能超过32个字符"))
    try:
        birthday = _date(row.get("birthday"))
    except ValueError:
        birthday = None
        errors.append(_("生日日期格式不正确（应为 YYYY-MM-DD）"))
    try:
        maturity = _date(row.get("product_maturity"))
    except ValueError:
        maturity = None
        errors.append(_("产品到期日格式不正确（应为 YYYY-MM-DD）"))
    flags = []
    for column in ("debit_card", "credit_card", "other_bank_card"):
        try:
            flags.append(_flag(row.get(column)))
        except ValueError:
            flags.append(False)
            errors.append(_("%(column)s 应填“是”或“否”") % {"column": _(_FLAG_LABELS[column])})
    aum_text = _text(row.get("aum_bracket"))
    aum = _AUM.get(aum_text)
    if aum is None:
        errors.append(_("AUM 区间无法识别：%(value)s") % {"value": aum_text})
    if errors:
        return None, errors
    debit, credit, other = flags
    return (
        customer_no,
        name,
        phone,
        id_number,
        birthday,
        _text(row.get("branch"))[:64],
        debit,
        credit,
        other,
        ring_for(debit=debit, credit=credit, other_bank=other),
        aum,
        _text(row.get("product_name"))[:128],
        maturity,
    ), []


def bank_rows_preview(*, rows: list[Mapping], first_line: int = 2) -> ImportResult:
    """Validate without saving: counts and per-row errors for the admin's preview."""
    result = ImportResult()
    seen: set[str] = set()
    for offset, row in enumerate(rows):
        result.total += 1
        values, errors = validate_row(row)
        if values is not None and values[0] in seen:
            errors = [_("文件内客户号重复：%(no)s") % {"no": values[0]}]
        if errors:
            _keep_error(result, first_line + offset, _text(row.get("customer_no")), errors)
        else:
            seen.add(values[0])
    return result


def _keep_error(result: ImportResult, line: int, customer_no: str, messages: list[str]) -> None:
    result.error_count += 1
    if len(result.errors) < MAX_ERRORS_KEPT:
        result.errors.append(RowError(line=line, customer_no=customer_no, messages=messages))


# --- importing --------------------------------------------------------------------

_STAGE = "contacts_bank_stage"
_STAGE_COLUMNS = (
    "customer_no, name, phone, phone_hash, id_number, birthday, branch_code, "
    "has_debit_card, has_credit_card, has_other_bank_card, ring, aum_bracket, "
    "product_name, product_maturity"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def _flush(cursor, batch: list[tuple]) -> None:
    """Encrypt and hash a batch, then COPY it into the staging table."""
    hasher = phone_hasher()
    phones = [r[2] for r in batch]
    ids = [r[3] for r in batch]
    phone_tokens = encrypt_many(phones)
    id_tokens = encrypt_many(ids)
    buf = io.StringIO()
    write = buf.write
    for r, p_tok, i_tok in zip(batch, phone_tokens, id_tokens, strict=True):
        write(
            "\t".join(
                (
                    _copy_text(r[0]),
                    _copy_text(r[1]),
                    p_tok,
                    hasher(r[2]) if r[2] else "",
                    i_tok,
                    r[4].isoformat() if r[4] else "\\N",
                    _copy_text(r[5]),
                    "t" if r[6] else "f",
                    "t" if r[7] else "f",
                    "t" if r[8] else "f",
                    r[9],
                    r[10],
                    _copy_text(r[11]),
                    r[12].isoformat() if r[12] else "\\N",
                )
            )
        )
        write("\n")
    buf.seek(0)
    cursor.copy_expert(f"COPY {_STAGE} ({_STAGE_COLUMNS}) FROM STDIN", buf)


def _merge(cursor) -> tuple[int, int]:
    cursor.execute(
        """
        WITH merged AS (
            INSERT INTO contacts_bankrecord (
                customer_no, name, phone, phone_hash, id_number, birthday, branch_code,
                branch_id, has_debit_card, has_credit_card, has_other_bank_card, ring,
                aum_bracket, product_name, product_maturity, imported_at, updated_at)
            SELECT s.customer_no, s.name, s.phone, s.phone_hash, s.id_number, s.birthday,
                   s.branch_code, b.id, s.has_debit_card, s.has_credit_card,
                   s.has_other_bank_card, s.ring, s.aum_bracket, s.product_name,
                   s.product_maturity, now(), now()
            FROM contacts_bank_stage s LEFT JOIN contacts_branch b ON b.code = s.branch_code
            ON CONFLICT (customer_no) DO UPDATE SET
                name = EXCLUDED.name, phone = EXCLUDED.phone,
                phone_hash = EXCLUDED.phone_hash, id_number = EXCLUDED.id_number,
                birthday = EXCLUDED.birthday, branch_code = EXCLUDED.branch_code,
                branch_id = EXCLUDED.branch_id, has_debit_card = EXCLUDED.has_debit_card,
                has_credit_card = EXCLUDED.has_credit_card,
                has_other_bank_card = EXCLUDED.has_other_bank_card, ring = EXCLUDED.ring,
                aum_bracket = EXCLUDED.aum_bracket, product_name = EXCLUDED.product_name,
                product_maturity = EXCLUDED.product_maturity, updated_at = now()
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM merged
        """
    )
    created, updated = cursor.fetchone()
    # A re-import may move a customer between rings (D1): keep verified customers in step.
    cursor.execute(
        """
        UPDATE contacts_customer c SET ring = br.ring, updated_at = now()
        FROM contacts_bankrecord br
        WHERE c.bank_record_id = br.id AND c.ring <> br.ring AND c.status <> 'erased'
        """
    )
    return created, updated


def bank_records_import(
    *,
    rows: Iterable[Mapping],
    actor=None,
    request=None,
    source: str = "",
    first_line: int = 2,
    match: bool = True,
) -> ImportResult:
    """Upsert the bank's customer rows by customer number; bad rows are reported,
    good ones saved. Then verifies WeCom customers whose remark mobile matches (D4)."""
    result = ImportResult()
    seen: set[str] = set()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {_STAGE} (customer_no text, name text, phone text, "
            "phone_hash text, id_number text, birthday date, branch_code text, "
            "has_debit_card bool, has_credit_card bool, has_other_bank_card bool, "
            "ring text, aum_bracket text, product_name text, product_maturity date) "
            "ON COMMIT DROP"
        )
        batch: list[tuple] = []
        for offset, row in enumerate(rows):
            result.total += 1
            values, errors = validate_row(row)
            if values is not None:
                if values[0] in seen:
                    errors = [_("文件内客户号重复：%(no)s") % {"no": values[0]}]
                else:
                    seen.add(values[0])
                    batch.append(values)
            if errors:
                _keep_error(result, first_line + offset, _text(row.get("customer_no")), errors)
            if len(batch) >= _COPY_BATCH:
                _flush(cursor, batch)
                batch = []
        if batch:
            _flush(cursor, batch)
        result.created, result.updated = _merge(cursor)
        # Dropped now, not only on commit: the import may run inside a larger transaction.
        cursor.execute(f"DROP TABLE {_STAGE}")
        if match:
            result.matched = bank_records_match_remark_mobiles()
        audit_record(
            actor=actor,
            action=AuditEvent.Action.IMPORT,
            target="contacts.bankrecord",
            request=request,
            details={
                "source": source,
                "total": result.total,
                "created": result.created,
                "updated": result.updated,
                "errors": result.error_count,
                "matched": result.matched,
            },
        )
    return result


# --- matching and verification (D4) ------------------------------------------------


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


def customer_bind_by_manager(
    *, user, customer_id: int, customer_no: str = "", phone: str = ""
) -> Customer:
    """A manager binds one of their customers by customer number or phone (D4)."""
    customer = customers_visible_to(user).filter(pk=customer_id).first()
    if customer is None:
        raise DomainError("not_found", _("客户不存在或无权查看"), status=404)
    customer_no = customer_no.strip()
    if customer_no:
        record = BankRecord.objects.filter(customer_no=customer_no).first()
    elif phone:
        normalized = phone_normalize(phone)
        if normalized is None:
            raise DomainError("phone_invalid", _("手机号格式不正确"))
        record = BankRecord.objects.filter(phone_hash=phone_hash(normalized)).first()
    else:
        raise DomainError("binding_missing", _("请输入客户号或手机号"))
    if record is None:
        raise DomainError("bank_record_not_found", _("未找到对应的行内客户"), status=404)
    return customer_verify(
        customer=customer,
        record=record,
        method=Customer.VerifyMethod.MANAGER_BINDING,
        staff=staff_of(user),
    )


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
    customer = Customer.objects.filter(pk=data.get("c")).first()
    if customer is None or customer.status == Customer.Status.ERASED:
        raise DomainError("link_invalid", _("链接无效"))
    return customer


def customer_verify_by_phone(*, token: str, phone: str) -> Customer:
    """The customer confirms their phone on the H5 page; matched by hash (D4).
    A few attempts per link, so the page cannot be used to probe phone numbers."""
    customer = customer_from_verify_token(token)
    if customer.verified_at:
        return customer
    key = f"h5-verify-attempts:{customer.pk}"
    cache.add(key, 0, timeout=3600)
    if cache.incr(key) > _H5_ATTEMPTS:
        raise DomainError("too_many_attempts", _("尝试次数过多，请一小时后再试"), status=429)
    normalized = phone_normalize(phone)
    if normalized is None:
        raise DomainError("phone_invalid", _("手机号格式不正确"))
    record = BankRecord.objects.filter(phone_hash=phone_hash(normalized)).first()
    if record is None:
        raise DomainError(
            "bank_record_not_found", _("未找到该手机号对应的行内客户，请联系您的客户经理")
        )
    return customer_verify(customer=customer, record=record, method=Customer.VerifyMethod.H5_PHONE)
