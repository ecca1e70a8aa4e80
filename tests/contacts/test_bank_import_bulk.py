"""Bulk loading of bank records: tokens the encrypted fields read, upsert by
customer number across batches, duplicates in one file, a failed load saves nothing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection
from encrypted_model_fields.fields import EncryptedCharField

from contacts import bank_import as bank
from contacts.bank import bank_records_import
from contacts.crypto import encrypt_many, phone_hash, phone_normalize
from contacts.models import BankRecord, Branch

VALUES = [
    "",
    "1",
    "13800001111",
    "x" * 15,
    "y" * 16,
    "z" * 17,
    "44030119900101123X",
    "张三丰" * 6,
    "w" * 100,
]


def test_encrypt_many_tokens_decrypt_with_the_field_class():
    tokens = encrypt_many(VALUES + VALUES[::-1])
    field = EncryptedCharField(max_length=255)
    decrypted = [field.from_db_value(t, None, connection) for t in tokens]
    assert decrypted == VALUES + VALUES[::-1]
    fernet = Fernet(settings.FIELD_ENCRYPTION_KEY[0])
    assert fernet.decrypt(tokens[2].encode()) == b"13800001111"
    # Random IVs: equal values never give equal tokens.
    assert len(set(encrypt_many(["13800001111"] * 50))) == 50


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("13800001111", "13800001111"),
        (" 13800001111", "13800001111"),
        ("+86 138-0000-1111", "13800001111"),
        ("008613800001111", "13800001111"),
        ("12800001111", None),
        ("1380000111", None),
        ("138000011112", None),
    ],
)
def test_phone_normalize(raw, normalized):
    assert phone_normalize(raw) == normalized


def _row(no: str, phone: str, **extra) -> dict:
    return {"customer_no": no, "phone": phone, "id_number": f"ID{no}", **extra}


def test_reimport_across_batches_updates_existing_and_creates_new(db, monkeypatch):
    monkeypatch.setattr(bank, "_COPY_BATCH", 3)  # several batches, mixed new and existing
    Branch.objects.create(code="SZ-FT", name="福田")
    first = bank_records_import(rows=[_row(f"K{i}", f"1380000{i:04d}") for i in range(5)])
    assert (first.created, first.updated, first.error_count) == (5, 0, 0)
    before = {r.customer_no: r.imported_at for r in BankRecord.objects.all()}
    rows = [
        _row("K1", "13900000001", name="新名", debit_card="是", branch="SZ-FT"),
        _row("N1", "13700000001"),
        _row("K3", "13900000003", product_maturity="2027-01-31"),
        _row("N2", "13700000002", branch="SZ-FT"),
        _row("N3", "13700000003"),
        _row("K4", "13900000004"),
        _row("N4", "13700000004"),
    ]
    second = bank_records_import(rows=rows)
    assert (second.total, second.created, second.updated) == (7, 4, 3)
    assert BankRecord.objects.count() == 9
    k1 = BankRecord.objects.get(customer_no="K1")
    assert (k1.name, k1.phone, k1.ring, k1.branch.code) == ("新名", "13900000001", "inner", "SZ-FT")
    assert k1.phone_hash == phone_hash("13900000001") and k1.id_number == "IDK1"
    assert k1.imported_at == before["K1"]  # an update keeps the first import time
    assert str(BankRecord.objects.get(customer_no="K3").product_maturity) == "2027-01-31"
    n2 = BankRecord.objects.get(customer_no="N2")
    assert n2.branch.code == "SZ-FT" and n2.phone == "13700000002"
    assert BankRecord.objects.get(customer_no="K0").phone == "13800000000"  # untouched


def test_duplicate_customer_number_in_one_file_is_a_row_error(db, monkeypatch):
    monkeypatch.setattr(bank, "_COPY_BATCH", 2)
    rows = [_row("D1", "13800000001"), _row("D2", "13800000002"), _row(" D1 ", "13800000009")]
    result = bank_records_import(rows=rows, first_line=2)
    assert (result.total, result.created, result.error_count) == (3, 2, 1)
    assert result.errors[0].line == 4
    assert result.errors[0].messages == ["文件内客户号重复：D1"]
    assert BankRecord.objects.get(customer_no="D1").phone == "13800000001"  # first one kept


def test_values_needing_copy_escapes_survive(db):
    name = "A\tB\\C\nD"
    bank_records_import(rows=[_row("E\\1", "13800000001", name=name, product_name="P\r1")])
    record = BankRecord.objects.get(customer_no="E\\1")
    assert (record.name, record.product_name) == (name, "P\r1")


def test_a_failed_load_saves_nothing(db, monkeypatch):
    def broken(self, keys, lines):
        raise RuntimeError("load failed")

    monkeypatch.setattr(bank._Writer, "_load", broken)
    with pytest.raises(RuntimeError, match="load failed"):
        bank_records_import(rows=[_row(f"F{i}", f"1380000{i:04d}") for i in range(10)])
    assert not BankRecord.objects.exists()
