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
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent
from scrm.core.roles import Role, user_has_role

from .crypto import encrypt_many, mask_phone, phone_hash, phone_hasher, phone_normalize
from .models import BankRecord, Customer, FollowRelation, TimelineEntry
from .selectors import customers_visible_to, staff_of, user_sees_all_customers

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
_FLAGS = dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)
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
# Small enough that loading one batch overlaps encrypting the next.
_COPY_BATCH = 20_000
VERIFY_TIMELINE_KIND = "verified"
_H5_VERIFY_SALT = "contacts.h5.verify"
_H5_ATTEMPTS = 5
# Manager bind attempts per person per hour (D4), as on the H5 page: too few to probe phones.
_BIND_ATTEMPTS = 5


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


_INNER, _MIDDLE, _OUTER = (
    Customer.Ring.INNER.value,
    Customer.Ring.MIDDLE.value,
    Customer.Ring.OUTER.value,
)


# --- reading files ---------------------------------------------------------------


def _canonical(headers: Iterable) -> list[str | None]:
    return [_HEADER_TO_COLUMN.get(str(h or "").strip().lower()) for h in headers]


def rows_from_csv(data: bytes) -> Iterator[dict]:
    """Rows of a CSV file (UTF-8 with or without BOM, or GB18030 as Excel saves it)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise DomainError(
                "file_encoding", _("无法识别文件编码，请将 CSV 另存为 UTF-8 或 GB18030 编码")
            ) from exc
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None:
            return
        columns = _canonical(header)
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            yield {c: v for c, v in zip(columns, values, strict=False) if c}
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
        raise DomainError(
            "file_unreadable",
            _("CSV 文件第 %(line)d 行无法读取（字段过长或格式错误）") % {"line": reader.line_num},
        ) from exc


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
    except Exception as exc:  # a damaged sheet fails while it is read, in several types
        raise DomainError("file_unreadable", _("无法读取 Excel 文件，请确认是 .xlsx 格式")) from exc
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
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores long numbers as floats
    return str(value).strip()


def _date(value) -> date | None:
    if value is None or value == "":
        return None
    if type(value) is str:
        text = value.strip()
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)  # the usual YYYY-MM-DD, without the rewrites
    elif isinstance(value, datetime):
        return value.date()
    elif isinstance(value, date):
        return value
    else:
        text = _text(value)
    text = text.replace("/", "-")
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return date.fromisoformat(text)


def validate_row(row: Mapping) -> tuple[tuple | None, list[str]]:
    """One row → (values for the staging table, []) or (None, Chinese error messages)."""
    get = row.get
    errors: list[str] = []
    customer_no = _text(get("customer_no"))
    if not customer_no:
        errors.append(_("客户号不能为空"))
    elif len(customer_no) > 32:
        errors.append(_("客户号不能超过32个字符"))
    name = _text(get("name"))[:64]
    raw_phone = _text(get("phone"))
    phone = phone_normalize(raw_phone) if raw_phone else ""
    if phone is None:
        errors.append(_("手机号格式不正确：%(value)s") % {"value": raw_phone})
    id_number = _text(get("id_number")).upper()
    if len(id_number) > 32:
        errors.append(_("证件号不能超过32个字符"))
    try:
        birthday = _date(get("birthday"))
    except ValueError:
        birthday = None
        errors.append(_("生日日期格式不正确（应为 YYYY-MM-DD）"))
    try:
        maturity = _date(get("product_maturity"))
    except ValueError:
        maturity = None
        errors.append(_("产品到期日格式不正确（应为 YYYY-MM-DD）"))
    debit = _FLAGS.get(_text(get("debit_card")).lower())
    credit = _FLAGS.get(_text(get("credit_card")).lower())
    other = _FLAGS.get(_text(get("other_bank_card")).lower())
    if debit is None or credit is None or other is None:
        for column, flag in (
            ("debit_card", debit),
            ("credit_card", credit),
            ("other_bank_card", other),
        ):
            if flag is None:
                errors.append(_("%(column)s 应填“是”或“否”") % {"column": _(_FLAG_LABELS[column])})
    aum_text = _text(get("aum_bracket"))
    aum = _AUM.get(aum_text)
    if aum is None:
        errors.append(_("AUM 区间无法识别：%(value)s") % {"value": aum_text})
    if errors:
        return None, errors
    return (
        customer_no,
        name,
        phone,
        id_number,
        birthday,
        _text(get("branch"))[:64],
        debit,
        credit,
        other,
        _INNER if debit else _MIDDLE if credit or other else _OUTER,
        aum,
        _text(get("product_name"))[:128],
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
_COLUMNS = (
    "customer_no, name, phone, phone_hash, id_number, birthday, branch_code, branch_id, "
    "has_debit_card, has_credit_card, has_other_bank_card, ring, aum_bracket, "
    "product_name, product_maturity, imported_at, updated_at"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_BOOL = {True: "t", False: "f"}
_NULL = "\\N"


def _copy_lines(batch: list[tuple], branches: Mapping[str, int], stamp: str) -> list[str]:
    """Encrypt and hash a batch: one COPY line per row, columns as in ``_COLUMNS``."""
    hasher = phone_hasher()
    phone_tokens = encrypt_many([r[2] for r in batch])
    id_tokens = encrypt_many([r[3] for r in batch])
    esc = _COPY_ESCAPES
    lines = []
    append = lines.append
    for r, p_tok, i_tok in zip(batch, phone_tokens, id_tokens, strict=True):
        branch_id = branches.get(r[5])
        append(
            f"{r[0].translate(esc)}\t{r[1].translate(esc)}\t{p_tok}\t"
            f"{hasher(r[2]) if r[2] else ''}\t{i_tok}\t"
            f"{r[4].isoformat() if r[4] else _NULL}\t{r[5].translate(esc)}\t"
            f"{_NULL if branch_id is None else branch_id}\t"
            f"{_BOOL[r[6]]}\t{_BOOL[r[7]]}\t{_BOOL[r[8]]}\t{r[9]}\t{r[10]}\t"
            f"{r[11].translate(esc)}\t{r[12].isoformat() if r[12] else _NULL}\t"
            f"{stamp}\t{stamp}\n"
        )
    return lines


_MERGE = f"""
    WITH merged AS (
        INSERT INTO contacts_bankrecord ({_COLUMNS})
        SELECT {_COLUMNS} FROM {_STAGE}
        ON CONFLICT (customer_no) DO UPDATE SET
            name = EXCLUDED.name, phone = EXCLUDED.phone,
            phone_hash = EXCLUDED.phone_hash, id_number = EXCLUDED.id_number,
            birthday = EXCLUDED.birthday, branch_code = EXCLUDED.branch_code,
            branch_id = EXCLUDED.branch_id, has_debit_card = EXCLUDED.has_debit_card,
            has_credit_card = EXCLUDED.has_credit_card,
            has_other_bank_card = EXCLUDED.has_other_bank_card, ring = EXCLUDED.ring,
            aum_bracket = EXCLUDED.aum_bracket, product_name = EXCLUDED.product_name,
            product_maturity = EXCLUDED.product_maturity, updated_at = EXCLUDED.updated_at
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
    FROM merged
"""  # noqa: S608 (constant identifiers only)


class _Writer(threading.Thread):
    """Loads encrypted batches on the import's own connection while the caller
    validates and encrypts the next ones, so Python and PostgreSQL work side by side.

    The table is locked against other writers for the import, so customer numbers
    not in it when a batch is checked are still free when it is copied: those rows
    go straight into the table, the others through the staging table's upsert."""

    def __init__(self, raw_connection, *, table_was_empty: bool):
        super().__init__(name="bank-import-writer", daemon=True)
        self.cursor = raw_connection.cursor()
        self.check_existing = not table_was_empty
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.created = 0
        self.updated = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                self._load(*item)
        except BaseException as exc:  # handed to the importing thread, which re-raises
            self.error = exc
            while self.queue.get() is not None:
                pass

    def _copy(self, table: str, lines: list[str]) -> None:
        data = io.BytesIO("".join(lines).encode())
        self.cursor.copy_expert(f"COPY {table} ({_COLUMNS}) FROM STDIN", data, size=1 << 20)

    def _load(self, keys: list[str], lines: list[str]) -> None:
        existing: set[str] = set()
        if self.check_existing:
            self.cursor.execute(
                "SELECT customer_no FROM contacts_bankrecord WHERE customer_no = ANY(%s)", [keys]
            )
            existing = {r[0] for r in self.cursor.fetchall()}
        if not existing:
            self._copy("contacts_bankrecord", lines)
            self.created += len(lines)
            return
        fresh = [line for key, line in zip(keys, lines, strict=True) if key not in existing]
        if fresh:
            self._copy("contacts_bankrecord", fresh)
        self._copy(_STAGE, [ln for k, ln in zip(keys, lines, strict=True) if k in existing])
        self.cursor.execute(_MERGE)
        created, updated = self.cursor.fetchone()
        self.cursor.execute(f"TRUNCATE {_STAGE}")
        self.created += len(fresh) + created
        self.updated += updated


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
        # Other writers wait (readers do not): what is checked as new stays new.
        cursor.execute("LOCK TABLE contacts_bankrecord IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT now(), NOT EXISTS (SELECT 1 FROM contacts_bankrecord)")
        now, table_was_empty = cursor.fetchone()
        stamp = now.isoformat()
        cursor.execute("SELECT code, id FROM contacts_branch")
        branches = dict(cursor.fetchall())
        cursor.execute(
            f"CREATE TEMP TABLE {_STAGE} (customer_no text, name text, phone text, "
            "phone_hash text, id_number text, birthday date, branch_code text, "
            "branch_id bigint, has_debit_card bool, has_credit_card bool, "
            "has_other_bank_card bool, ring text, aum_bracket text, product_name text, "
            "product_maturity date, imported_at timestamptz, updated_at timestamptz) "
            "ON COMMIT DROP"
        )
        writer = _Writer(connection.connection, table_was_empty=table_was_empty)
        writer.start()
        try:
            batch: list[tuple] = []
            for offset, row in enumerate(rows):
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
                    _hand_over(writer, batch, branches, stamp)
                    batch = []
                result.total += 1
            if batch:
                _hand_over(writer, batch, branches, stamp)
        finally:
            writer.queue.put(None)
            writer.join()
        if writer.error is not None:
            raise writer.error
        result.created, result.updated = writer.created, writer.updated
        # A re-import may move a customer between rings (D1): keep verified customers in step.
        cursor.execute(
            """
            UPDATE contacts_customer c SET ring = br.ring, updated_at = now()
            FROM contacts_bankrecord br
            WHERE c.bank_record_id = br.id AND c.ring <> br.ring AND c.status <> 'erased'
            """
        )
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


def _hand_over(writer: _Writer, batch: list[tuple], branches: Mapping[str, int], stamp: str):
    if writer.error is not None:
        raise writer.error
    writer.queue.put(([r[0] for r in batch], _copy_lines(batch, branches, stamp)))


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


def bank_records_in_scope_of(user) -> QuerySet[BankRecord]:
    """Bank records a person may bind customers to: ops every record; branch managers
    and customer managers the records of their own branch (the record's ``branch``).
    Records of no known branch are left to ops. Mirrors ``customers_visible_to``."""
    qs = BankRecord.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user_sees_all_customers(user):
        return qs
    staff = staff_of(user)
    if staff is None or staff.branch_id is None:
        return qs.none()
    if user_has_role(user, Role.BRANCH_MANAGER) or user_has_role(user, Role.CUSTOMER_MANAGER):
        return qs.filter(branch_id=staff.branch_id)
    return qs.none()


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
