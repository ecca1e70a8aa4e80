"""Reconcile the database with WeCom: a runner over the steps the apps register.

The apps that own the data (contacts: staff, customers and follow relations;
groups: group chats; tagging: corp tags and customers' tags) register their
steps with :func:`reconcile_step` from their ``AppConfig.ready``, so this
module never imports them. A step's ``pull`` reads WeCom and adds or updates
what WeCom has through its app's services; what WeCom seems to have lost is
only collected, into the context's removal of the step's kind. After every
pull the guard checks the share: when WeCom's answer would end more than
``WECOM_SYNC_MAX_REMOVAL_SHARE`` (and at least ``WECOM_SYNC_MIN_REMOVAL_ROWS``)
of any kind, the run ends nothing, records a :class:`ReconcileHold` and waits
for ops to confirm (``wecom_sync --confirm-mass-removal`` or the admin action).
Otherwise each step's ``end`` ends what it collected, through the same services
a callback uses, so a relation ended here marks the customer lost exactly as a
``del_external_contact`` does.

Steps run by ``order`` (then name): tags 10, staff 20, customers 30, customer
tags 40, groups 50; then the guard; then each step's ``end`` in the same order.
Idempotent: a second run with nothing changed in WeCom reports zero changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    counts: dict[str, int] = field(default_factory=dict)
    held: ReconcileHoldInfo | None = None

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] = self.counts.get(key, 0) + n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def __str__(self) -> str:
        text = ", ".join(f"{k}: {v}" for k, v in self.as_dict().items()) or "no changes"
        if self.held is not None:
            text += f"; HELD: {self.held.reason}"
        return text


@dataclass
class ReconcileHoldInfo:
    hold_id: int
    reason: str


@dataclass
class Removal:
    """What WeCom no longer has of one kind: collected by a pull, ended by its step's end."""

    items: list[Any] = field(default_factory=list)  # what the step's end() ends
    active: int = 0  # live rows of the kind here, before the run ends anything
    # Rows lost to us but not ended (e.g. open relations of staff WeCom no longer lists
    # as follow users: the relation may well live on in WeCom). The guard counts them.
    lost: int = 0

    @property
    def remove(self) -> int:
        return len(self.items) + self.lost


@dataclass
class ReconcileContext:
    """What the steps of one run share."""

    report: SyncReport
    removals: dict[str, Removal]
    # The follow users WeCom lists (set by the staff step; empty until then).
    follow_userids: list[str] = field(default_factory=list)
    # Data one step leaves for a later one, keyed by a name its owner exports.
    shared: dict[str, Any] = field(default_factory=dict)
    # When the ends happen: set once, after the guard, before the first end().
    ended_at: datetime | None = None

    def removal(self, kind: str) -> Removal:
        return self.removals[kind]


StepFunction = Callable[[ReconcileContext], None]


@dataclass(frozen=True)
class ReconcileStep:
    name: str
    order: int
    pull: StepFunction
    end: StepFunction | None = None
    removal_kind: str | None = None
    label: str | None = None  # the kind in the hold's reason (e.g. 客户关系)


STEPS: dict[str, ReconcileStep] = {}


def reconcile_step(
    name: str,
    order: int,
    *,
    pull: StepFunction,
    end: StepFunction | None = None,
    removal_kind: str | None = None,
    label: str | None = None,
) -> ReconcileStep:
    """Register a step of the nightly reconcile (from the owning app's ``ready()``).

    ``pull(ctx)`` reads WeCom and upserts; a step with a ``removal_kind`` collects
    into ``ctx.removal(kind)`` what WeCom no longer has and ``end(ctx)`` ends it
    once the guard let the run through. Registering the same step again is
    harmless; another step under a taken name or removal kind is refused.
    """
    step = ReconcileStep(
        name=name,
        order=order,
        pull=pull,
        end=end,
        removal_kind=removal_kind,
        label=label or removal_kind,
    )
    known = STEPS.get(name)
    if known is not None:
        if known == step:
            return known
        raise ImproperlyConfigured(f"reconcile step {name!r} is already registered")
    if removal_kind is not None:
        if end is None:
            raise ImproperlyConfigured(f"reconcile step {name!r} collects removals but ends none")
        owner = next((s.name for s in STEPS.values() if s.removal_kind == removal_kind), None)
        if owner is not None:
            raise ImproperlyConfigured(
                f"removal kind {removal_kind!r} already belongs to reconcile step {owner!r}"
            )
    STEPS[name] = step
    return step


def reconcile_steps() -> list[ReconcileStep]:
    """The registered steps in the order they run."""
    return sorted(STEPS.values(), key=lambda s: (s.order, s.name))


def removal_too_large(*, remove: int, active: int) -> bool:
    """More than the allowed share of the active rows, and at least the minimum count."""
    if remove < settings.WECOM_SYNC_MIN_REMOVAL_ROWS:
        return False
    return remove > settings.WECOM_SYNC_MAX_REMOVAL_SHARE * max(active, 1)


def _hold(ctx: ReconcileContext, steps: list[ReconcileStep]) -> ReconcileHoldInfo | None:
    """Record why the run ends nothing, once per distinct situation while unresolved."""
    from .models import ReconcileHold

    labels = {s.removal_kind: s.label for s in steps if s.removal_kind}
    counts = {
        kind: {"remove": removal.remove, "active": removal.active}
        for kind, removal in ctx.removals.items()
    }
    large = [
        kind
        for kind, c in counts.items()
        if removal_too_large(remove=c["remove"], active=c["active"])
    ]
    if not large:
        return None
    share = settings.WECOM_SYNC_MAX_REMOVAL_SHARE
    reason = "；".join(
        f"企业微信返回的数据将结束 {counts[k]['remove']} / {counts[k]['active']} 个{labels[k]}"
        for k in large
    ) + (
        f"（超过 {share:.0%} 的保护阈值）。这通常是配置问题（Secret 错误、应用缺少客户联系权限、"
        "接口返回空列表），本次同步未结束任何数据，请核实后确认执行。"
    )
    hold = ReconcileHold.objects.filter(resolved_at__isnull=True, counts=counts).first()
    if hold is None:
        hold = ReconcileHold.objects.create(reason=reason, counts=counts)
    logger.error("wecom reconcile held: mass removal", extra={"hold_id": hold.pk, "counts": counts})
    return ReconcileHoldInfo(hold_id=hold.pk, reason=reason)


def wecom_sync_all(*, confirm_mass_removal: bool = False, confirmed_by=None) -> SyncReport:
    """The nightly reconciliation (also ``manage.py wecom_sync``)."""
    from .models import ReconcileHold

    steps = reconcile_steps()
    ctx = ReconcileContext(
        report=SyncReport(),
        removals={s.removal_kind: Removal() for s in steps if s.removal_kind},
    )
    for step in steps:
        step.pull(ctx)
    if not confirm_mass_removal:
        ctx.report.held = _hold(ctx, steps)
        if ctx.report.held is not None:
            return ctx.report
    ctx.ended_at = timezone.now()
    for step in steps:
        if step.end is not None:
            step.end(ctx)
    ReconcileHold.objects.filter(resolved_at__isnull=True).update(
        resolved_at=timezone.now(),
        confirmed_by=confirmed_by if confirm_mass_removal else None,
        resolution="confirmed" if confirm_mass_removal else "cleared by a normal run",
    )
    return ctx.report


def check_reconcile() -> dict:
    """Health: failing while a reconcile is held, waiting for ops to confirm."""
    from .models import ReconcileHold

    hold = ReconcileHold.objects.filter(resolved_at__isnull=True).order_by("-created_at").first()
    if hold is None:
        return {"ok": True}
    return {
        "ok": False,
        "error": "reconcile held: mass removal awaits confirmation",
        "hold_id": hold.pk,
    }
