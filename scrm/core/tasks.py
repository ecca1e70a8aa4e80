"""Thin Celery tasks of the core: the nightly audit purge."""

from __future__ import annotations

import logging

from celery import shared_task

from .audit import audit_purge, audit_retention_days

logger = logging.getLogger(__name__)


@shared_task(name="core.audit_purge", ignore_result=True)
def audit_purge_expired() -> int:
    """Delete audit records older than ``AUDIT_RETENTION_DAYS`` (never younger than the
    floor of six months).

    Final failure: not retried; nothing is deleted (the delete is one transaction) and
    the next night's run deletes everything past retention, that night's rows included.
    """
    days = audit_retention_days()
    deleted = audit_purge(older_than_days=days)
    logger.info("audit purge", extra={"deleted": deleted, "retention_days": days})
    return deleted
