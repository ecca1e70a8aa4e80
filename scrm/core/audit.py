"""The audit trail of sensitive access (D14): one function writes every record.

Reveals, exports, imports and erasures call ``audit_record`` inside their own
transaction, so an action and its audit record commit together or not at all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from .context import request_id_var
from .errors import DomainError
from .models import AuditEvent

# The floor no setting can lower: audit records are kept at least six months.
MIN_RETENTION_DAYS = 183


def _client_ip(request) -> str | None:
    if request is None:
        return None
    # Behind the reverse proxy the first X-Forwarded-For hop is the client.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    ip = forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR")
    return ip or None


def _target(target: Any) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk)
    if isinstance(target, tuple):
        kind, ident = target
        return str(kind), str(ident)
    return str(target), ""


def audit_record(
    *,
    actor,
    action: str,
    target: Any = None,
    request=None,
    details: dict | None = None,
) -> AuditEvent:
    """Append one audit record. ``target`` is a model instance, a ``(type, id)``
    pair or a plain label (e.g. ``"contacts.customer"`` for a list export)."""
    if action not in AuditEvent.Action.values:
        raise DomainError("audit_action_unknown", f"unknown audit action {action!r}")
    target_type, target_id = _target(target)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    rid = getattr(request, "request_id", "") if request is not None else ""
    if not rid:
        rid = request_id_var.get()
        rid = "" if rid == "-" else rid
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_name=(actor.get_username() if authenticated else "")[:150],
        action=action,
        target_type=target_type[:64],
        target_id=target_id[:128],
        ip=_client_ip(request),
        request_id=rid[:64],
        details=details or {},
    )


def audit_retention_days() -> int:
    return max(MIN_RETENTION_DAYS, int(getattr(settings, "AUDIT_RETENTION_DAYS", 0)))


@transaction.atomic
def audit_purge(*, older_than_days: int) -> int:
    """Delete audit records older than ``older_than_days``; never younger than the floor."""
    floor = audit_retention_days()
    if older_than_days < floor:
        raise DomainError(
            "audit_retention",
            f"审计记录至少保留 {floor} 天，不能删除 {older_than_days} 天内的记录",
        )
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = AuditEvent.objects.filter(at__lt=cutoff).delete()
    return deleted
