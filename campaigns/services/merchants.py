"""Merchants, stores, their API keys and store-staff logins.

A key is ``mk_<prefix>_<secret>``: shown once when created, stored as its SHA-256
(a key is 190 random bits, so a fast hash is enough), looked up by its prefix and
compared in constant time. Revoking is immediate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from ..models import Merchant, MerchantKey, MerchantStaff, Store
from .lifecycle import _require_editor

KEY_PREFIX = "mk_"
_LAST_USED_EVERY = timedelta(minutes=5)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def merchant_save(*, actor, data: Mapping[str, Any], merchant_id: int | None = None) -> Merchant:
    _require_editor(actor)
    merchant = Merchant() if merchant_id is None else Merchant.objects.get(pk=merchant_id)
    for name in ("name", "region", "is_active"):
        if name in data:
            setattr(merchant, name, data[name])
    if not (merchant.name or "").strip():
        raise DomainError("invalid", _("请填写商户名称"), data={"field": "name"})
    merchant.save()
    return merchant


@transaction.atomic
def store_save(
    *, actor, merchant_id: int, data: Mapping[str, Any], store_id: int | None = None
) -> Store:
    _require_editor(actor)
    store = Store(merchant_id=merchant_id) if store_id is None else Store.objects.get(pk=store_id)
    for name in ("code", "name", "region", "address", "is_active"):
        if name in data:
            setattr(store, name, data[name])
    store.code = (store.code or "").strip()
    if not store.code or not (store.name or "").strip():
        raise DomainError("invalid", _("请填写门店编号和名称"), data={"field": "code"})
    store.save()
    return store


@transaction.atomic
def merchant_staff_save(
    *, actor, user, merchant_id: int, store_id: int | None = None
) -> MerchantStaff:
    _require_editor(actor)
    staff, _created = MerchantStaff.objects.update_or_create(
        user=user, defaults={"merchant_id": merchant_id, "store_id": store_id}
    )
    return staff


@transaction.atomic
def merchant_key_create(
    *, actor, merchant_id: int, name: str = "", raw_key: str | None = None, request=None
) -> tuple[MerchantKey, str]:
    """A new key for the merchant: (the stored key, the plain key to show once).
    ``raw_key`` lets the demo set a known key (``mk_<prefix>_<secret>``)."""
    _require_editor(actor)
    if raw_key is None:
        raw_key = f"{KEY_PREFIX}{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}"
    prefix = _prefix_of(raw_key)
    if prefix is None:
        raise DomainError("invalid", _("密钥格式应为 mk_<前缀>_<密钥>"), data={"field": "key"})
    key = MerchantKey.objects.create(
        merchant_id=merchant_id,
        name=(name or "").strip()[:60],
        prefix=prefix,
        key_hash=_hash(raw_key),
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=key,
        request=request,
        details={"operation": "merchant_key_create", "merchant": merchant_id, "prefix": prefix},
    )
    return key, raw_key


@transaction.atomic
def merchant_key_revoke(*, actor, key_id: int, request=None) -> MerchantKey:
    _require_editor(actor)
    key = MerchantKey.objects.select_for_update().get(pk=key_id)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.revoked_by = actor
        key.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=key,
            request=request,
            details={"operation": "merchant_key_revoke", "merchant": key.merchant_id},
        )
    return key


def _prefix_of(raw: str) -> str | None:
    if not raw.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = raw[len(KEY_PREFIX) :].partition("_")
    if not sep or not 4 <= len(prefix) <= 16 or len(secret) < 16 or not prefix.isalnum():
        return None
    return prefix


def merchant_key_authenticate(raw: str) -> MerchantKey | None:
    """The active key of an active merchant that ``raw`` is, or None."""
    prefix = _prefix_of(raw or "")
    if prefix is None:
        return None
    key = (
        MerchantKey.objects.select_related("merchant")
        .filter(prefix=prefix, revoked_at__isnull=True, merchant__is_active=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_EVERY:
        # At most one write per key every few minutes, whatever the POS traffic.
        MerchantKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


@transaction.atomic
def merchant_staff_remove(*, actor, staff_id: int) -> None:
    _require_editor(actor)
    MerchantStaff.objects.filter(pk=staff_id).delete()
