"""The bank-file import as a background job (D1, D4): upload, queue, progress, report.

The request stores the file under ``VAR_DIR/bank-imports`` and creates a
``BankImportJob``; the task is enqueued when that commits. A worker claims the
job (queued → running with a guarded update), imports the rows in one
transaction, and reports progress and a heartbeat from a thread of its own, on
its own connection, in short transactions: the admin sees the counts move while
the records themselves appear all at once when the import commits.

A job survives a lost task or a dead worker: a periodic sweep hands queued jobs
whose task never started to a worker again, and puts running jobs without a
heartbeat back in the queue. Every write of a run is guarded by the job's
attempt number, so a run that lost its job saves nothing, and the import
upserts by customer number, so running a job again is safe.
"""

from __future__ import annotations

import csv
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from .bank_files import (
    bank_file_check,
    bank_file_rows_estimate,
    rows_iter_from_file,
    rows_to_csv,
)
from .bank_import import bank_records_import
from .bank_rows import ImportResult, RowError
from .models import BankImportJob

logger = logging.getLogger(__name__)

IMPORT_PERMISSION = "contacts.add_bankrecord"
# A queued job whose task has not started after this long is handed to a worker again.
QUEUED_RESEND_AFTER = timedelta(minutes=5)
# A running job whose worker has not written a heartbeat for this long lost its worker.
RUNNING_STALE_AFTER = timedelta(minutes=5)
# Written even when no batch finished (reading a big workbook, matching, committing).
HEARTBEAT_S = 15.0
ERROR_REPORT_HEADER = ("行号", "客户号", "错误")
_Status = BankImportJob.Status


class _JobLost(Exception):
    """The job was handed to another run (the sweep took it for a dead worker's)."""


def bank_import_dir() -> Path:
    path = Path(settings.VAR_DIR) / "bank-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bank_import_file_store(*, data: bytes) -> str:
    """Keep an uploaded file for its job; returns its name under ``bank_import_dir()``."""
    stored = uuid.uuid4().hex
    (bank_import_dir() / stored).write_bytes(data)
    return stored


def _stored_path(stored: str) -> Path:
    # Names are ours (uuid hex, job-N-…-errors.csv); a path separator is never one of them.
    if not stored or Path(stored).name != stored:
        raise DomainError("file_missing", _("导入文件已不存在，请重新上传"))
    return bank_import_dir() / stored


# --- who sees which job -----------------------------------------------------------


def bank_import_jobs_visible_to(user) -> QuerySet[BankImportJob]:
    """Jobs a person may see: all of them with the import permission, else their own."""
    qs = BankImportJob.objects.select_related("created_by")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user.has_perm(IMPORT_PERMISSION):
        return qs
    return qs.filter(created_by=user)


def bank_import_job_get(*, user, job_id: int) -> BankImportJob:
    """One job the person may see; 404 when it is missing, 403 when it is not theirs."""
    job = bank_import_jobs_visible_to(user).filter(pk=job_id).first()
    if job is not None:
        return job
    if getattr(user, "is_authenticated", False) and user.has_perm(IMPORT_PERMISSION):
        raise DomainError("not_found", _("导入任务不存在"), status=404)
    raise DomainError("forbidden", _("没有查看导入任务的权限"), status=403)


# --- creating, retrying, sweeping ---------------------------------------------------


def _enqueue_on_commit(job_id: int) -> None:
    from .tasks import bank_import_run

    # robust: a broker outage must not fail the request; the sweep sends the job later.
    transaction.on_commit(lambda: bank_import_run.delay(job_id), robust=True)


def _require_import_permission(actor) -> None:
    if not (getattr(actor, "is_authenticated", False) and actor.has_perm(IMPORT_PERMISSION)):
        raise DomainError("forbidden", _("没有导入行内客户的权限"), status=403)


@transaction.atomic
def bank_import_job_create(
    *,
    actor,
    file_name: str,
    stored_file: str,
    total: int | None = None,
    source: str = "admin",
) -> BankImportJob:
    """Queue the import of a stored file (``bank_import_file_store``); the task is
    sent when the transaction commits."""
    _require_import_permission(actor)
    if not _stored_path(stored_file).is_file():
        raise DomainError("file_missing", _("导入文件已不存在，请重新上传"))
    job = BankImportJob.objects.create(
        created_by=actor,
        file_name=file_name[:255],
        stored_file=stored_file,
        source=source,
        total=total,
        enqueued_at=timezone.now(),
    )
    _enqueue_on_commit(job.pk)
    return job


def bank_import_job_submit(
    *,
    actor,
    file_name: str = "",
    data: bytes | None = None,
    rows: list[Mapping] | None = None,
    source: str = "api",
) -> BankImportJob:
    """Queue the import of a file (CSV or XLSX bytes) or of rows given as data (the
    API's JSON rows, kept as a CSV file). A file of another type, in an unknown
    encoding or not a workbook is refused here; rows that cannot be read further down
    fail the job."""
    _require_import_permission(actor)
    if rows is not None:
        data, file_name, total = rows_to_csv(rows), "rows.csv", len(rows)
    elif data is not None:
        total = bank_file_check(name=file_name, data=data)
    else:
        raise DomainError("file_missing", _("请上传文件"))
    stored = bank_import_file_store(data=data)
    try:
        return bank_import_job_create(
            actor=actor, file_name=file_name, stored_file=stored, total=total, source=source
        )
    except BaseException:
        _stored_path(stored).unlink(missing_ok=True)
        raise


@transaction.atomic
def bank_import_job_retry(*, actor, job_id: int) -> BankImportJob:
    """Queue a failed job again from its kept file (the admin's retry action)."""
    _require_import_permission(actor)
    job = BankImportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        raise DomainError("not_found", _("导入任务不存在"), status=404)
    if job.status != _Status.FAILED:
        raise DomainError("job_not_failed", _("只能重试失败的导入任务"), status=409)
    if not _stored_path(job.stored_file).is_file():
        raise DomainError("file_missing", _("导入文件已不存在，请重新上传"))
    job.status = _Status.QUEUED
    job.enqueued_at = timezone.now()
    job.error_message = ""
    job.started_at = job.heartbeat_at = job.finished_at = None
    job.save(
        update_fields=[
            "status",
            "enqueued_at",
            "error_message",
            "started_at",
            "heartbeat_at",
            "finished_at",
        ]
    )
    _enqueue_on_commit(job.pk)
    return job


@transaction.atomic
def bank_import_jobs_sweep(*, now: datetime | None = None) -> list[int]:
    """Hand jobs to a worker again: queued ones whose task never started (broker
    outage, lost message) and running ones whose worker stopped its heartbeat (killed,
    host lost). Returns the ids sent."""
    now = now or timezone.now()
    sent: list[int] = []
    stale = BankImportJob.objects.filter(
        status=_Status.RUNNING, heartbeat_at__lt=now - RUNNING_STALE_AFTER
    )
    for job_id in stale.values_list("pk", flat=True):
        # Guarded: a heartbeat written since the read keeps the job with its worker.
        if stale.filter(pk=job_id).update(status=_Status.QUEUED, enqueued_at=now) == 1:
            logger.warning("bank import job lost its worker; queued again", extra={"job": job_id})
            sent.append(job_id)
    lost = BankImportJob.objects.filter(status=_Status.QUEUED).filter(
        Q(enqueued_at__lt=now - QUEUED_RESEND_AFTER) | Q(enqueued_at__isnull=True)
    )
    for job_id in lost.values_list("pk", flat=True):
        if lost.filter(pk=job_id).update(enqueued_at=now) == 1:
            sent.append(job_id)
    for job_id in sent:
        _enqueue_on_commit(job_id)
    return sent


# --- running --------------------------------------------------------------------------


class _ProgressReporter(threading.Thread):
    """Writes a running job's counts and heartbeat on this thread's own connection,
    each write a short transaction of its own, while the import's long transaction
    runs on the caller's. A write that finds the job no longer running under this
    attempt marks the run as lost, and the import stops at its next batch."""

    def __init__(self, *, job_id: int, attempt: int):
        super().__init__(name=f"bank-import-progress-{job_id}", daemon=True)
        self.job_id = job_id
        self.attempt = attempt
        self.lost = False
        self._pending: dict = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._seen = False

    def report(self, **fields) -> None:
        with self._lock:
            self._pending.update(fields)
        self._wake.set()

    def run(self) -> None:
        try:
            while True:
                self._wake.wait(HEARTBEAT_S)
                self._wake.clear()
                halting = self._halt.is_set()  # read before writing: nothing reported is left
                self._write()
                if halting:
                    break
        finally:
            connection.close()  # this thread's connection, not the import's

    def _write(self) -> None:
        with self._lock:
            fields, self._pending = self._pending, {}
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # Never wait behind a lock on the job row: the next write catches up.
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                changed = BankImportJob.objects.filter(
                    pk=self.job_id, status=_Status.RUNNING, attempts=self.attempt
                ).update(heartbeat_at=timezone.now(), **fields)
        except DatabaseError:
            logger.warning("bank import progress not written", extra={"job": self.job_id})
            with self._lock:
                self._pending = {**fields, **self._pending}
            return
        if changed:
            self._seen = True
        elif self._seen:
            # Seen running before, not now: the sweep gave the job to another run. (A job
            # never seen is one this connection cannot see, e.g. uncommitted in a test.)
            self.lost = True

    def stop(self) -> None:
        if self.is_alive():
            self._halt.set()
            self._wake.set()
            self.join()


def _claim(job_id: int) -> BankImportJob | None:
    now = timezone.now()
    claimed = BankImportJob.objects.filter(pk=job_id, status=_Status.QUEUED).update(
        status=_Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        processed=0,
        created_count=0,
        updated_count=0,
        error_count=0,
        matched_count=0,
        errors=[],
        error_report="",
        error_message="",
    )
    if claimed != 1:
        return None  # gone, or another run has it: a duplicate delivery exits quietly
    return BankImportJob.objects.select_related("created_by").get(pk=job_id)


def _fail(job: BankImportJob, message: str) -> None:
    try:
        BankImportJob.objects.filter(
            pk=job.pk, status=_Status.RUNNING, attempts=job.attempts
        ).update(
            status=_Status.FAILED,
            error_message=message[:2000],
            created_count=0,  # the import rolled back: nothing was saved
            updated_count=0,
            matched_count=0,
            finished_at=timezone.now(),
        )
    except DatabaseError:  # the database is gone too: the sweep finds the stale heartbeat
        logger.exception("bank import job failure not recorded", extra={"job": job.pk})


def bank_import_job_run(*, job_id: int) -> BankImportJob | None:
    """Claim a queued job and import its file. Returns the finished job, or None when
    there was nothing to run (gone, not queued, or taken over by another run).

    A file that cannot be read, or any other error, rolls the import back and marks
    the job failed with the message; the file is kept so ops can retry the job."""
    job = _claim(job_id)
    if job is None:
        return None
    directory = bank_import_dir()
    # Unique per run: a retried job (or another database sharing the var dir, as test
    # workers do) never writes into a report another run is writing.
    report_stem = f"job-{job.pk}-{job.attempts}-{uuid.uuid4().hex[:12]}-errors.csv"
    report_part = directory / f"{report_stem}.part"
    reporter = _ProgressReporter(job_id=job.pk, attempt=job.attempts)
    reporter.start()
    failure = ""

    def on_progress(result: ImportResult) -> None:
        if reporter.lost:
            raise _JobLost
        reporter.report(
            processed=result.total,
            created_count=result.created,
            updated_count=result.updated,
            error_count=result.error_count,
        )

    try:
        source = _stored_path(job.stored_file)
        try:
            data = source.read_bytes()
        except FileNotFoundError as exc:
            raise DomainError("file_missing", _("导入文件已不存在，请重新上传")) from exc
        if job.total is None:
            reporter.report(total=bank_file_rows_estimate(name=job.file_name, data=data))
        rows = rows_iter_from_file(name=job.file_name, data=data)
        with transaction.atomic():
            with report_part.open("w", encoding="utf-8-sig", newline="") as fh:
                report = csv.writer(fh)
                report.writerow(ERROR_REPORT_HEADER)

                def on_error(error: RowError) -> None:
                    report.writerow((error.line, error.customer_no, "；".join(error.messages)))

                result = bank_records_import(
                    rows=rows,
                    actor=job.created_by,
                    source=job.file_name,
                    on_progress=on_progress,
                    on_error=on_error,
                    audit_details={"job": job.pk},
                )
            reporter.stop()  # its last write is in; the job row is this transaction's now
            report_name = ""
            if result.error_count:
                report_name = report_stem
                report_part.replace(directory / report_name)
            finished = BankImportJob.objects.filter(
                pk=job.pk, status=_Status.RUNNING, attempts=job.attempts
            ).update(
                status=_Status.DONE,
                total=result.total,
                processed=result.total,
                created_count=result.created,
                updated_count=result.updated,
                error_count=result.error_count,
                matched_count=result.matched,
                errors=[e.as_dict() for e in result.errors],
                error_report=report_name,
                heartbeat_at=timezone.now(),
                finished_at=timezone.now(),
            )
            if finished != 1:
                raise _JobLost
            # The records are in: the customer file itself (plain phones) is not kept.
            transaction.on_commit(lambda: source.unlink(missing_ok=True))
    except _JobLost:
        logger.warning("bank import job taken over by another run", extra={"job": job.pk})
        return None
    except DomainError as exc:
        failure = exc.message
    except Exception as exc:
        logger.exception("bank import job failed", extra={"job": job.pk})
        failure = _("导入失败：%(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        reporter.stop()  # before the failure is written: no progress lands after it
        report_part.unlink(missing_ok=True)
    if failure:
        _fail(job, failure)
    job.refresh_from_db()
    return job


# --- the error report -------------------------------------------------------------


@transaction.atomic
def bank_import_job_error_report(*, user, job_id: int, request=None) -> tuple[Path, str]:
    """The full per-row error report of a job (CSV) and its download name; audited as
    an export, since it names customers and the values they were refused for."""
    job = bank_import_job_get(user=user, job_id=job_id)
    path = _stored_path(job.error_report) if job.error_report else None
    if path is None or not path.is_file():
        raise DomainError("not_found", _("该导入任务没有错误报告"), status=404)
    audit_record(
        actor=user,
        action=AuditEvent.Action.EXPORT,
        target=job,
        request=request,
        details={"report": "bank_import_errors", "rows": job.error_count, "file": job.file_name},
    )
    return path, f"bank-import-{job.pk}-errors.csv"
