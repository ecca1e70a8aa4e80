"""Validating the bank's rows (D1): one row → the values to store, or its errors in
Chinese. Also the counts and per-row errors an import or a preview reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .crypto import phone_normalize
from .models import BankRecord, Customer

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
