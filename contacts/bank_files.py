"""Reading the bank's customer file (D1): CSV or XLSX rows as dicts keyed by column.

Headers may be Chinese or English (``COLUMNS``); unknown columns are dropped.
Readers stream, so a big file is never held as a list of rows unless a caller
asks for one (``rows_from_file``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping

from django.utils.translation import gettext as _

from scrm.core.errors import DomainError

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


def _canonical(headers: Iterable) -> list[str | None]:
    return [_HEADER_TO_COLUMN.get(str(h or "").strip().lower()) for h in headers]


def _csv_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise DomainError(
                "file_encoding", _("无法识别文件编码，请将 CSV 另存为 UTF-8 或 GB18030 编码")
            ) from exc


def rows_from_csv(data: bytes) -> Iterator[dict]:
    """Rows of a CSV file (UTF-8 with or without BOM, or GB18030 as Excel saves it)."""
    reader = csv.reader(io.StringIO(_csv_text(data)))
    try:
        header = next(reader, None)
        if header is None:
            return
        columns = _canonical(header)
        known = None not in columns
        for values in reader:
            if not "".join(values).strip():  # a blank line, or only separators
                continue
            if known:  # every header is a known column: the common, fast case
                yield dict(zip(columns, values, strict=False))
            else:
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


def _reader(name: str):
    lower = name.lower()
    if lower.endswith(".xlsx"):
        return rows_from_xlsx
    if lower.endswith((".csv", ".txt")):
        return rows_from_csv
    raise DomainError("file_type", _("只支持 CSV 或 XLSX 文件"))


def rows_iter_from_file(*, name: str, data: bytes) -> Iterator[dict]:
    """The rows of a CSV or XLSX file (by its name), read as they are consumed."""
    return _reader(name)(data)


def rows_from_file(*, name: str, data: bytes) -> list[dict]:
    return list(rows_iter_from_file(name=name, data=data))


def bank_file_rows_estimate(*, name: str, data: bytes) -> int | None:
    """About how many rows a file has, for a progress bar: lines of a CSV file (blank
    lines and line breaks inside quotes included), the size a workbook declares (None
    when it declares none). A workbook that cannot be opened is refused."""
    if _reader(name) is rows_from_csv:
        lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        return max(lines - 1, 0)
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a bad file
        raise DomainError("file_unreadable", _("无法读取 Excel 文件，请确认是 .xlsx 格式")) from exc
    try:
        max_row = wb.worksheets[0].max_row if wb.worksheets else None
    except Exception:  # a sheet without a usable size: unknown, not an error yet
        max_row = None
    finally:
        wb.close()
    return max(max_row - 1, 0) if max_row else None


def bank_file_check(*, name: str, data: bytes) -> int | None:
    """What can be told of a file without reading its rows: refuses a file of another
    type, a CSV in an unknown encoding or something that is not a workbook, and returns
    about how many rows it has (``bank_file_rows_estimate``). Rows that cannot be read
    further down are reported when the file is imported."""
    if _reader(name) is rows_from_csv:
        _csv_text(data)
    return bank_file_rows_estimate(name=name, data=data)


def rows_to_csv(rows: Iterable[Mapping]) -> bytes:
    """Rows given as data (the API's JSON rows) as a CSV file with the canonical
    headers, so they are imported exactly like an uploaded file."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
    return out.getvalue().encode()
