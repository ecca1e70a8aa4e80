"""Benchmark: loading the bank's customer file (D1, D4) and matching WeCom customers.

Runs alone: ``.venv/bin/python bench/import_bank_records.py``. Uses
DATABASE_URL/REDIS_URL when set, else starts the embedded PostgreSQL/Redis;
creates a throwaway database and migrates it. Then:

1. imports 1,000,000 generated rows through ``contacts.bank.bank_records_import``
   (the same service the admin and the API call): per-row validation, Fernet
   encryption of phone and ID number, HMAC-SHA256 phone hash, COPY of each
   batch (new customer numbers straight into the table, known ones through a
   staging table and INSERT … ON CONFLICT). Input generation is outside the
   timing; everything the service does is inside it.
2. re-imports every tenth row with changed values (all updates by customer
   number) through the same service, timed on its own.
3. seeds 100,000 WeCom customers with active relations, half of them carrying
   a remark mobile that is in the bank file, and times the set-based match
   (``bank_records_match_remark_mobiles``) that verifies them.

Prints figures; the last line is one JSON object with ``rows_per_s``,
``reimport_rows_per_s`` and ``match_s``.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

from _support import bench_database  # noqa: E402

BENCH_DB = "scrm_bench_bank_import"
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "100000"))
KEYS = (
    "customer_no",
    "name",
    "phone",
    "id_number",
    "birthday",
    "branch",
    "debit_card",
    "credit_card",
    "other_bank_card",
    "aum_bracket",
    "product_name",
    "product_maturity",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
AUM = ["", "lt50k", "50k_500k", "500k_6m", "gte6m"]


def _phone(i: int) -> str:
    return f"1{3 + i % 7}{i:09d}"


def _generate(n: int, rng: random.Random) -> list[tuple]:
    rows = []
    for i in range(n):
        rows.append(
            (
                f"C{i:010d}",
                rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                _phone(i),
                f"4403011980{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 10000:04d}",
                f"19{60 + i % 40}-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                f"BR{i % 300:03d}",
                "是" if rng.random() < 0.5 else "否",
                "是" if rng.random() < 0.3 else "否",
                "是" if rng.random() < 0.2 else "否",
                AUM[i % 5],
                "稳健理财" if i % 3 == 0 else "",
                f"2027-{i % 12 + 1:02d}-{i % 28 + 1:02d}" if i % 3 == 0 else "",
            )
        )
    return rows


def _seed_customers(rows: list[tuple], n: int, rng: random.Random) -> None:
    """``n`` WeCom customers, each followed by one of 500 staff; every other one has a
    remark mobile from the bank file (the rest have numbers the bank does not know)."""
    from django.db import connection

    from contacts.crypto import encrypt_many, phone_hasher

    hasher = phone_hasher()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO contacts_staff (userid, name, position, status, is_follow_user, "
            "created_at, updated_at) SELECT 'mgr' || g, '经理' || g, '', 'active', true, now(), "
            "now() FROM generate_series(1, 500) g"
        )
        cur.execute("SELECT id FROM contacts_staff ORDER BY id")
        staff_ids = [r[0] for r in cur.fetchall()]
        buf = io.StringIO()
        for i in range(n):
            buf.write(
                f"wmBENCH{i:08d}\t\t\t1\t0\t\t\t\tactive\tunknown\t\\N\t\t\\N\t\\N\tf\tnow\tnow\t\\N\t\t\\N\n"
            )
        buf.seek(0)
        cur.copy_expert(
            "COPY contacts_customer (external_userid, name, avatar, type, gender, unionid, "
            "corp_name, corp_full_name, status, ring, first_channel_id, first_state, "
            "first_added_at, verified_at, marketing_opt_out, created_at, updated_at, "
            "wecom_synced_at, verify_method, bank_record_id) FROM STDIN",
            buf,
        )
        cur.execute("SELECT id FROM contacts_customer ORDER BY id")
        customer_ids = [r[0] for r in cur.fetchall()]
        phones = [
            rows[rng.randrange(len(rows))][2] if k % 2 == 0 else f"199{k:08d}"
            for k in range(len(customer_ids))
        ]
        tokens = encrypt_many(phones)
        buf = io.StringIO()
        for k, cid in enumerate(customer_ids):
            buf.write(
                f"{cid}\t{staff_ids[k % len(staff_ids)]}\tactive\t\t\t\t0\t\t\tnow\t\\N\tnow\t"
                f"{tokens[k]}\t{{{hasher(phones[k])}}}\n"
            )
        buf.seek(0)
        cur.copy_expert(
            "COPY contacts_followrelation (customer_id, staff_id, status, remark, description, "
            "remark_corp_name, add_way, state, oper_userid, added_at, removed_at, updated_at, "
            "remark_mobiles, remark_mobile_hashes) FROM STDIN",
            buf,
        )
        cur.execute("ANALYZE contacts_customer; ANALYZE contacts_followrelation")


def _run() -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from contacts.bank import bank_records_import, bank_records_match_remark_mobiles
    from contacts.models import Branch, Customer

    call_command("migrate", verbosity=0)
    Branch.objects.bulk_create(
        [Branch(code=f"BR{i:03d}", name=f"第{i}支行") for i in range(300)], ignore_conflicts=True
    )
    rng = random.Random(20260401)
    t0 = time.perf_counter()
    data = _generate(ROWS, rng)
    print(f"generated {ROWS:,} rows in {time.perf_counter() - t0:.1f}s (not timed)", flush=True)

    def rows():
        for values in data:
            yield dict(zip(KEYS, values, strict=True))

    t0 = time.perf_counter()
    result = bank_records_import(rows=rows(), source="bench", match=False)
    import_s = time.perf_counter() - t0
    rows_per_s = ROWS / import_s
    print(
        f"imported {result.created:,} new / {result.updated:,} updated, "
        f"{result.error_count} errors in {import_s:.1f}s: {rows_per_s:,.0f} rows/s",
        flush=True,
    )
    changed = [(*v[:6], "是", *v[7:9], "gte6m", *v[10:]) for v in data[::10]]
    t0 = time.perf_counter()
    again = bank_records_import(
        rows=(dict(zip(KEYS, v, strict=True)) for v in changed), source="bench", match=False
    )
    reimport_s = time.perf_counter() - t0
    assert (again.created, again.updated) == (0, len(changed)), again.as_dict()
    reimport_rows_per_s = len(changed) / reimport_s
    print(
        f"re-imported {again.updated:,} rows (all updates) in {reimport_s:.1f}s: "
        f"{reimport_rows_per_s:,.0f} rows/s",
        flush=True,
    )
    with connection.cursor() as cur:
        cur.execute("ANALYZE contacts_bankrecord")

    t0 = time.perf_counter()
    _seed_customers(data, CUSTOMERS, rng)
    print(f"seeded {CUSTOMERS:,} WeCom customers in {time.perf_counter() - t0:.1f}s (not timed)")
    t0 = time.perf_counter()
    with transaction.atomic():
        matched = bank_records_match_remark_mobiles()
    match_s = time.perf_counter() - t0
    verified = Customer.objects.filter(verified_at__isnull=False).count()
    print(f"matched and verified {matched:,} customers ({verified:,} verified) in {match_s:.2f}s")
    return {
        "rows": ROWS,
        "rows_per_s": round(rows_per_s),
        "import_s": round(import_s, 2),
        "reimport_rows": len(changed),
        "reimport_rows_per_s": round(reimport_rows_per_s),
        "customers": CUSTOMERS,
        "matched": matched,
        "match_s": round(match_s, 2),
    }


def main() -> int:
    with bench_database(BENCH_DB, redis_db=12):
        result = _run()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
