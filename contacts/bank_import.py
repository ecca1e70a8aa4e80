"""Importing the bank's rows (D1, D4): validated rows are encrypted and hashed in
Python in batches, streamed into the table with ``COPY`` (known customer numbers
through a staging table and one ``INSERT … SELECT … ON CONFLICT``), all in one
transaction; then WeCom customers whose remark mobile matches are verified.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterable, Mapping

from django.db import connection, transaction
from django.utils.translation import gettext as _

from scrm.core.audit import audit_record
from scrm.core.models import AuditEvent

from .bank_rows import ImportResult, RowError, _keep_error, _text, validate_row
from .bank_verify import bank_records_match_remark_mobiles
from .crypto import encrypt_many, phone_hasher

# Small enough that loading one batch overlaps encrypting the next.
_COPY_BATCH = 20_000

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
    on_progress: Callable[[ImportResult], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
    audit_details: Mapping | None = None,
) -> ImportResult:
    """Upsert the bank's customer rows by customer number; bad rows are reported,
    good ones saved. Then verifies WeCom customers whose remark mobile matches (D4).

    ``on_progress`` is called with the counts so far every ``_COPY_BATCH`` rows read
    (an exception it raises aborts the import, which then saves nothing);
    ``on_error`` with every bad row, beyond the first ``MAX_ERRORS_KEPT`` the result
    keeps. ``audit_details`` are added to the import's audit record."""
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
                    line, customer_no = first_line + offset, _text(row.get("customer_no"))
                    _keep_error(result, line, customer_no, errors)
                    if on_error is not None:
                        on_error(RowError(line=line, customer_no=customer_no, messages=errors))
                if len(batch) >= _COPY_BATCH:
                    _hand_over(writer, batch, branches, stamp)
                    batch = []
                result.total += 1
                if on_progress is not None and result.total % _COPY_BATCH == 0:
                    result.created, result.updated = writer.created, writer.updated
                    on_progress(result)
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
                **(audit_details or {}),
            },
        )
    return result


def _hand_over(writer: _Writer, batch: list[tuple], branches: Mapping[str, int], stamp: str):
    if writer.error is not None:
        raise writer.error
    writer.queue.put(([r[0] for r in batch], _copy_lines(batch, branches, stamp)))
