"""Benchmark: loading the bank's customer file (D1, D4) and matching WeCom customers.

Runs alone: ``.venv/bin/python bench/import_bank_records.py``. Uses
DATABASE_URL/REDIS_URL when set, else starts the embedded PostgreSQL/Redis;
creates a throwaway database and migrates it. Then:

1. writes 1,000,000 generated rows to a CSV file under ``VAR_DIR/bank-imports``
   (not timed) and loads that file with raw PostgreSQL ``COPY`` into a scratch
   table of text columns, no index, no constraint: the floor any import of the
   file is measured against (``copy_rows_per_s``).
2. imports the file the way ops do: a ``BankImportJob`` is created and the
   task function (``contacts.tasks.bank_import_run``) runs here, in-process, on
   it. Timed from the task's start to its end: reading and parsing the file,
   per-row validation, Fernet encryption of phone and ID number, HMAC-SHA256
   phone hash, COPY of each batch (new customer numbers straight into the
   table, known ones through a staging table and INSERT … ON CONFLICT), the
   job's progress written batch by batch on its own connection. A thread reads
   the job row meanwhile, as the admin page does, and prints the progress.
3. re-imports every tenth row with changed values (all updates by customer
   number) through a second job, timed on its own.
4. seeds 100,000 WeCom customers with active relations, half of them carrying
   a remark mobile that is in the bank file, and times the set-based match
   (``bank_records_match_remark_mobiles``) that verifies them.

Prints figures; the last line is one JSON object with ``rows_per_s``,
``copy_rows_per_s``, ``ratio_vs_copy`` (import rows/s ÷ COPY rows/s),
``reimport_rows_per_s`` and ``match_s``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

from _support import bench_database  # noqa: E402

BENCH_DB = "scrm_bench_bank_import"
SCRATCH = "bench_copy_scratch"
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


def _write_csv(path: Path, rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(KEYS)
        writer.writerows(rows)


def _raw_copy(path: Path) -> float:
    """Seconds to COPY the file's rows into a table of text columns without any
    index or constraint (a plain, logged table, as the real one is)."""
    from django.db import connection

    columns = ", ".join(f"{k} text" for k in KEYS)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
        cur.execute(f"CREATE TABLE {SCRATCH} ({columns})")
        with path.open("rb") as fh:
            t0 = time.perf_counter()
            cur.copy_expert(f"COPY {SCRATCH} FROM STDIN WITH (FORMAT csv, HEADER true)", fh)
            copy_s = time.perf_counter() - t0
        cur.execute(f"SELECT count(*) FROM {SCRATCH}")  # noqa: S608 (a constant name)
        copied = cur.fetchone()[0]
        cur.execute(f"DROP TABLE {SCRATCH}")
    assert copied == ROWS, copied
    return copy_s


class _ProgressWatcher(threading.Thread):
    """Reads the job row every half second on its own connection, as the job page does."""

    def __init__(self, job_id: int):
        super().__init__(daemon=True)
        self.job_id = job_id
        self.samples: list[tuple[float, str, int, int | None]] = []
        self.done = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from contacts.models import BankImportJob

        t0 = time.perf_counter()
        last_print = -10.0
        try:
            while not self.done.wait(0.5):
                status, processed, total = BankImportJob.objects.values_list(
                    "status", "processed", "total"
                ).get(pk=self.job_id)
                at = time.perf_counter() - t0
                self.samples.append((at, status, processed, total))
                if at - last_print >= 5:
                    pct = f"{processed * 100 // total}%" if total else "?"
                    print(f"  [{at:5.1f}s] job {status}: {processed:,} / {total or 0:,} ({pct})")
                    last_print = at
        finally:
            connection.close()


def _run_job(path: Path, actor, *, watch: bool) -> tuple[object, float, list]:
    """Create a job for the stored file, run the task function on it; seconds taken."""
    from contacts.bank_jobs import bank_import_job_create
    from contacts.tasks import bank_import_run

    job = bank_import_job_create(
        actor=actor, file_name=f"{path.stem}.csv", stored_file=path.name, source="bench"
    )
    watcher = _ProgressWatcher(job.pk)
    if watch:
        watcher.start()
    t0 = time.perf_counter()
    outcome = bank_import_run(job.pk)
    elapsed = time.perf_counter() - t0
    if watch:
        watcher.done.set()
        watcher.join()
    job.refresh_from_db()
    assert outcome == "done", (outcome, job.error_message)
    return job, elapsed, watcher.samples


def _run() -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from contacts.bank import bank_records_match_remark_mobiles
    from contacts.bank_jobs import bank_import_dir
    from contacts.models import Branch, Customer

    call_command("migrate", verbosity=0)
    Branch.objects.bulk_create(
        [Branch(code=f"BR{i:03d}", name=f"第{i}支行") for i in range(300)], ignore_conflicts=True
    )
    ops = get_user_model().objects.create_superuser("bench-ops", password=None)
    rng = random.Random(20260401)
    t0 = time.perf_counter()
    data = _generate(ROWS, rng)
    path = bank_import_dir() / f"bench-{os.getpid()}"
    _write_csv(path, data)
    size_mb = path.stat().st_size / 1e6
    print(
        f"generated {ROWS:,} rows, {size_mb:.0f} MB of CSV in {time.perf_counter() - t0:.1f}s "
        "(not timed)",
        flush=True,
    )

    copy_s = _raw_copy(path)
    copy_rows_per_s = ROWS / copy_s
    print(
        f"raw COPY of the file into an unindexed text table: {copy_s:.1f}s: "
        f"{copy_rows_per_s:,.0f} rows/s",
        flush=True,
    )

    job, import_s, samples = _run_job(path, ops, watch=True)
    rows_per_s = ROWS / import_s
    moving = sorted({s[2] for s in samples if s[1] == "running"})
    print(
        f"imported {job.created_count:,} new / {job.updated_count:,} updated, "
        f"{job.error_count} errors in {import_s:.1f}s: {rows_per_s:,.0f} rows/s "
        f"(job #{job.pk}, {len(moving)} distinct progress counts seen while running)",
        flush=True,
    )
    assert (job.created_count, job.error_count) == (ROWS, 0), job.error_message
    print(
        f"import vs raw COPY: {rows_per_s / copy_rows_per_s:.3f} of COPY's rows/s",
        flush=True,
    )

    changed = [(*v[:6], "是", *v[7:9], "gte6m", *v[10:]) for v in data[::10]]
    again_path = bank_import_dir() / f"bench-{os.getpid()}-again"
    _write_csv(again_path, changed)
    again, reimport_s, _ = _run_job(again_path, ops, watch=False)
    assert (again.created_count, again.updated_count) == (0, len(changed))
    reimport_rows_per_s = len(changed) / reimport_s
    print(
        f"re-imported {again.updated_count:,} rows (all updates) in {reimport_s:.1f}s: "
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
        "copy_rows_per_s": round(copy_rows_per_s),
        "copy_s": round(copy_s, 2),
        "ratio_vs_copy": round(rows_per_s / copy_rows_per_s, 4),
        "progress_counts_seen": len(moving),
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
