"""The bank-file import as a background job (D1, D4): ops upload in the admin or post
to the API, a worker imports while the job page shows progress, the rows in error and
their full report (an audited export) come back on the job, and a job whose worker
died is queued again by the sweep and imported exactly once."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contacts import bank_import, bank_jobs
from contacts.bank_jobs import bank_import_jobs_sweep
from contacts.models import BankImportJob, BankRecord
from contacts.tasks import bank_import_run
from scrm.core.models import AuditEvent

HEADER = "客户号,姓名,手机号,本行借记卡,本行信用卡,他行卡,AUM区间\n"
CSV = (
    HEADER
    + "C001,张三,13800001111,是,否,否,50k_500k\n"
    + "C002,李四,12345,否,是,否,\n"
    + "C003,王五,13900003333,否,否,否,5万以下\n"
    + ",无号,13700003333,否,否,否,\n"
)


def _csv_of(n: int, *, start: int = 0) -> bytes:
    lines = [HEADER] + [
        f"G{i:07d},客户{i},1{3 + i % 7}{i:09d},{'是' if i % 2 else '否'},否,否,\n"
        for i in range(start, start + n)
    ]
    return "".join(lines).encode()


def _upload_and_confirm(client, data: bytes, name: str = "bank.csv"):
    url = reverse("admin:contacts_bankrecord_import")
    client.post(url, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})
    return client.post(url, {"confirm": client.session["bank_import_file"]["id"]})


def _import_audits(job) -> int:
    return AuditEvent.objects.filter(action="import", details__job=job.pk).count()


def test_ops_upload_in_the_admin_then_the_job_page_shows_progress_errors_and_report(cast, client):
    client.force_login(cast.ops)
    response = _upload_and_confirm(client, CSV.encode())
    job = BankImportJob.objects.get()
    job_url = reverse("admin:contacts_bankimportjob_change", args=[job.pk])
    assert response.status_code == 302 and response.url == job_url
    page = client.get(job_url).content.decode()
    assert "排队中" in page and '<progress id="job-progress"' in page
    assert '<meta http-equiv="refresh"' in page  # reloads itself while it waits
    jobs = client.get(reverse("admin:contacts_bankimportjob_changelist")).content.decode()
    assert "bank.csv" in jobs and "排队中" in jobs
    assert not BankRecord.objects.exists()

    assert bank_import_run(job.pk) == "done"  # what the worker runs

    page = client.get(job_url).content.decode()
    assert "已完成" in page and 'http-equiv="refresh"' not in page
    assert '<progress id="job-progress" max="100" value="100">' in page
    assert 'id="job-created">2<' in page and 'id="job-errors">2<' in page
    assert "手机号格式不正确：12345" in page and "客户号不能为空" in page
    assert set(BankRecord.objects.values_list("customer_no", flat=True)) == {"C001", "C003"}
    job.refresh_from_db()
    assert (job.total, job.processed, job.created_count, job.error_count) == (4, 4, 2, 2)
    assert job.created_by == cast.ops and job.attempts == 1 and job.finished_at
    assert _import_audits(job) == 1

    report_url = reverse("admin:contacts_bankimportjob_errors", args=[job.pk])
    assert report_url in page
    response = client.get(report_url)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows == [
        ["行号", "客户号", "错误"],
        ["3", "C002", "手机号格式不正确：12345"],
        ["5", "", "客户号不能为空"],
    ]
    export = AuditEvent.objects.get(action="export", target_type="contacts.bankimportjob")
    assert (export.actor, export.target_id, export.details["rows"]) == (cast.ops, str(job.pk), 2)


def test_someone_without_the_import_permission_cannot_see_a_job(cast, client):
    client.force_login(cast.ops)
    _upload_and_confirm(client, CSV.encode())
    job = BankImportJob.objects.get()
    bank_import_run(job.pk)
    client.force_login(cast.compliance)  # admin access, but no bank records
    page = client.get(reverse("admin:contacts_bankimportjob_change", args=[job.pk]))
    assert page.status_code == 403
    assert (
        client.get(reverse("admin:contacts_bankimportjob_errors", args=[job.pk])).status_code == 403
    )
    assert not AuditEvent.objects.filter(action="export").exists()
    api = APIClient()
    api.force_authenticate(cast.manager_a)
    response = api.get(reverse("api-bank-import-job", args=[job.pk]))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and response.json()["message"]
    response = api.get(reverse("api-bank-import-job-errors", args=[job.pk]))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_the_api_answers_202_with_the_job_url_and_the_status_moves_to_done(cast):
    api = APIClient()
    api.force_authenticate(cast.ops)
    upload = io.BytesIO(CSV.encode())
    upload.name = "bank.csv"
    response = api.post("/api/bank-records/import/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    body = response.json()
    job = BankImportJob.objects.get()
    assert response["Location"] == body["status_url"]
    assert body["status_url"].endswith(reverse("api-bank-import-job", args=[job.pk]))
    assert (body["id"], body["status"]) == (job.pk, "queued")
    status = api.get(response["Location"]).json()
    assert (status["status"], status["total"], status["processed"]) == ("queued", 4, 0)

    bank_import_run(job.pk)

    status = api.get(response["Location"]).json()
    assert status["status"] == "done" and status["percent"] == 100
    assert (status["created"], status["updated"], status["error_count"]) == (2, 0, 2)
    assert status["errors"][0] == {
        "line": 3,
        "customer_no": "C002",
        "messages": ["手机号格式不正确：12345"],
    }
    report = api.get(status["error_report_url"])
    assert report.status_code == 200
    assert "C002" in b"".join(report.streaming_content).decode("utf-8-sig")
    assert AuditEvent.objects.filter(action="export", actor=cast.ops).count() == 1


def test_a_job_keeps_the_first_thousand_errors_and_reports_them_all(cast, monkeypatch):
    monkeypatch.setattr(bank_import, "_COPY_BATCH", 500)
    bad = "".join(f"B{i},,12{i:09d},否,否,否,\n" for i in range(1200))
    api = APIClient()
    api.force_authenticate(cast.ops)
    upload = io.BytesIO((HEADER + bad + "OK1,,13800001111,否,否,否,\n").encode())
    upload.name = "bank.csv"
    job_url = api.post("/api/bank-records/import/", {"file": upload}, format="multipart")[
        "Location"
    ]
    bank_import_run(BankImportJob.objects.get().pk)
    status = api.get(job_url).json()
    assert (status["error_count"], len(status["errors"]), status["created"]) == (1200, 1000, 1)
    report = b"".join(api.get(status["error_report_url"]).streaming_content).decode("utf-8-sig")
    assert len(report.strip().splitlines()) == 1 + 1200


def test_a_failed_job_keeps_its_file_and_ops_retry_it_from_the_admin(cast, client, monkeypatch):
    client.force_login(cast.ops)
    _upload_and_confirm(client, CSV.encode())
    job = BankImportJob.objects.get()

    def broken(**kwargs):
        raise RuntimeError("database went away")

    with monkeypatch.context() as m:
        m.setattr(bank_jobs, "bank_records_import", broken)
        assert bank_import_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "database went away" in job.error_message
    assert (bank_jobs.bank_import_dir() / job.stored_file).is_file()  # kept for the retry
    page = client.get(reverse("admin:contacts_bankimportjob_change", args=[job.pk]))
    assert (
        "database went away" in page.content.decode() and 'id="retry-job"' in page.content.decode()
    )

    response = client.post(
        reverse("admin:contacts_bankimportjob_changelist"),
        {"action": "retry_jobs", "_selected_action": [job.pk]},
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "queued" and job.error_message == ""
    assert bank_import_run(job.pk) == "done"
    job.refresh_from_db()
    assert (job.created_count, job.attempts) == (2, 2)
    assert BankRecord.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_run_that_lost_its_job_to_the_sweep_saves_nothing(cast, monkeypatch):
    """The worker was taken for dead (no heartbeat) and its job queued again: when it
    comes back, its import rolls back; the next run imports the file once."""
    stored = bank_jobs.bank_import_file_store(data=CSV.encode())
    job = bank_jobs.bank_import_job_create(
        actor=cast.ops, file_name="bank.csv", stored_file=stored, source="admin"
    )
    real_import = bank_jobs.bank_records_import
    swept: list[list[int]] = []

    def import_then_lose_the_job(**kwargs):
        result = real_import(**kwargs)
        # Meanwhile, elsewhere (its own connection), the sweep finds the heartbeat stale.
        later = timezone.now() + timedelta(minutes=10)
        sweep = threading.Thread(
            target=lambda: (swept.append(bank_import_jobs_sweep(now=later)), connection.close())
        )
        sweep.start()
        sweep.join()
        return result

    with monkeypatch.context() as m:
        m.setattr(bank_jobs, "bank_records_import", import_then_lose_the_job)
        assert bank_import_run(job.pk) == "skipped"
    assert swept == [[job.pk]]
    assert not BankRecord.objects.exists()
    job.refresh_from_db()
    assert job.status == "queued"
    assert bank_import_run(job.pk) == "done"
    assert bank_import_run(job.pk) == "skipped"  # a duplicate delivery changes nothing
    assert BankRecord.objects.count() == 2 and _import_audits(job) == 1


def test_the_sweep_resends_queued_jobs_whose_task_was_lost(
    cast, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.force_authenticate(cast.ops)
    with django_capture_on_commit_callbacks() as sent:
        client.post("/api/bank-records/import/", {"rows": [{"customer_no": "S1"}]}, format="json")
    assert len(sent) == 1  # the task goes out when the job commits
    job = BankImportJob.objects.get()
    assert bank_import_jobs_sweep() == []  # just queued: its task is on the way
    later = timezone.now() + timedelta(minutes=6)
    with django_capture_on_commit_callbacks() as sent:
        assert bank_import_jobs_sweep(now=later) == [job.pk]
    assert len(sent) == 1
    bank_import_run(job.pk)
    assert bank_import_jobs_sweep(now=later + timedelta(hours=1)) == []  # done stays done


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_others_while_the_import_runs(cast, monkeypatch):
    """Counts and heartbeat are committed batch by batch on their own connection,
    while the records themselves appear only when the import commits."""
    monkeypatch.setattr(bank_import, "_COPY_BATCH", 10)
    real_load = bank_import._Writer._load

    def slow_load(self, keys, lines):
        time.sleep(0.05)
        real_load(self, keys, lines)

    monkeypatch.setattr(bank_import._Writer, "_load", slow_load)
    seen: list[tuple] = []
    real_write = bank_jobs._ProgressReporter._write

    def write_and_look(self):
        real_write(self)
        # Read back on the reporter's own connection: what the admin sees right now.
        row = BankImportJob.objects.values_list("status", "processed", "total").get()
        seen.append((*row, BankRecord.objects.count()))

    monkeypatch.setattr(bank_jobs._ProgressReporter, "_write", write_and_look)
    stored = bank_jobs.bank_import_file_store(data=_csv_of(100))
    job = bank_jobs.bank_import_job_create(
        actor=cast.ops, file_name="big.csv", stored_file=stored, source="admin"
    )
    assert bank_import_run(job.pk) == "done"
    running = [s for s in seen if s[0] == "running"]
    processed = [s[1] for s in running]
    assert len(set(processed)) >= 5, seen
    assert processed == sorted(processed) and max(processed) <= 100
    assert all(s[2] == 100 for s in running)  # the total is known from the start
    assert all(s[3] == 0 for s in running)  # records are committed together, at the end
    job.refresh_from_db()
    assert (job.status, job.created_count) == ("done", 100)
    assert not (bank_jobs.bank_import_dir() / stored).exists()  # the customer file is gone


# --- with a real worker -----------------------------------------------------------------


def _wait(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
def test_a_real_worker_imports_the_uploaded_file_and_the_status_moves_to_done(
    cast, celery_worker_process
):
    api = APIClient()
    api.force_authenticate(cast.ops)
    upload = io.BytesIO(CSV.encode())
    upload.name = "bank.csv"
    response = api.post("/api/bank-records/import/", {"file": upload}, format="multipart")
    assert response.status_code == 202
    status = _wait(
        lambda: (body := api.get(response["Location"]).json())["status"] == "done" and body,
        "the job to finish",
    )
    assert (status["created"], status["error_count"], status["processed"]) == (2, 2, 4)
    assert BankRecord.objects.count() == 2


@pytest.mark.e2e
def test_a_job_whose_worker_died_is_queued_again_by_the_sweep_and_imported_once(
    cast, celery_worker_process
):
    from tests.conftest import WorkerProcess, child_env

    rows = 100_000
    stored = bank_jobs.bank_import_file_store(data=_csv_of(rows))
    job = bank_jobs.bank_import_job_create(
        actor=cast.ops, file_name="big.csv", stored_file=stored, source="admin"
    )
    _wait(
        lambda: BankImportJob.objects.filter(pk=job.pk, status="running", processed__gt=0).exists(),
        "the import to be under way",
    )
    celery_worker_process.kill()  # the worker dies mid-import
    job.refresh_from_db()
    assert job.status == "running" and job.processed < rows
    # Its transaction died with its connection: nothing of the half-done import is left.
    _wait(lambda: not _import_holds_the_table(), "the dead worker's transaction to end")
    assert not BankRecord.objects.exists()
    assert bank_import_jobs_sweep() == []  # the heartbeat is recent: maybe it is only slow
    later = timezone.now() + bank_jobs.RUNNING_STALE_AFTER + timedelta(seconds=1)
    assert bank_import_jobs_sweep(now=later) == [job.pk]
    job.refresh_from_db()
    assert job.status == "queued"

    worker = WorkerProcess(child_env()).start()  # ops bring the workers back
    try:
        _wait(
            lambda: BankImportJob.objects.filter(pk=job.pk, status="done").exists(),
            "the job to finish on the new worker",
            timeout=120,
        )
    finally:
        worker.stop()
    job.refresh_from_db()
    assert (job.created_count, job.updated_count, job.processed) == (rows, 0, rows)
    assert job.attempts == 2 and BankRecord.objects.count() == rows
    assert _import_audits(job) == 1


def _import_holds_the_table() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'contacts_bankrecord' AND l.mode = 'ShareRowExclusiveLock'"
        )
        return cursor.fetchone()[0] > 0
