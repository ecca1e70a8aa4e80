"""Every periodic job, declared in one place.

Each entry's ``expires`` is shorter than its period, so a backlog after an
outage never runs the same sweep many times over.
"""

from __future__ import annotations

from celery.schedules import crontab

from .payments import PAYOUTS_DISPATCH_EVERY_S

CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # SOP: due slots become occurrences, expanded into per-group deliveries (D6).
    "sop-tick": {"task": "sop.tick", "schedule": 60.0, "options": {"expires": 50}},
    # Pushes whose task the broker lost, or whose worker died mid-call.
    "sop-push-sweep": {"task": "sop.push_sweep", "schedule": 60.0, "options": {"expires": 50}},
    # Send results of mass messages that owners confirm in WeCom.
    "sop-results-sync": {
        "task": "sop.results_sync",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    # Customer tags not yet in WeCom (mark_tag), batched per relation.
    "tags-push-sweep": {
        "task": "tagging.tasks.customer_tags_push_sweep",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Coupons claimed and redeemed since the last scan become behaviour events (the
    # claim transaction itself does no such work).
    "campaigns-coupon-events-scan": {
        "task": "campaigns.coupon_events_scan",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # Event batches whose evaluation task the broker lost or whose worker died.
    "behaviour-batches-sweep": {
        "task": "behaviour.batches_sweep",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # Intent levels that decay has ended (only the due rows), and level tags WeCom has
    # no id for yet (D9).
    "intent-levels-expire": {
        "task": "intent.levels_expire",
        "schedule": 900.0,
        "options": {"expires": 800},
    },
    # Tag-rule back-fills whose chain of chunks stopped (lost message, dead worker).
    "tag-rules-backfills-sweep": {
        "task": "tag_rules.backfills_sweep",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Rule tags with no matching event for the rule's stale days come off (here, WeCom).
    "tag-rules-stale-remove": {
        "task": "tag_rules.stale_remove",
        "schedule": crontab(hour=3, minute=15),
        "options": {"expires": 6 * 3600},
    },
    # Lead activation (D12): dormant bank customers ranked and handed to their branch's
    # managers before the working day.
    "leads-assign-daily": {
        "task": "leads.assign_daily",
        "schedule": crontab(hour=7, minute=30),
        "options": {"expires": 3 * 3600},
    },
    # Hand-overs of departed staff's customers: WeCom decides within 24 hours.
    "transfer-results-poll": {
        "task": "contacts.tasks.transfer_results_poll",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Bank-file imports whose task was lost, or whose worker died mid-import.
    "bank-import-sweep": {
        "task": "contacts.tasks.bank_import_jobs_sweep",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # The staff directory (department as branch, who left).
    "staff-directory-sync": {
        "task": "contacts.tasks.staff_directory_sync",
        "schedule": crontab(hour=1, minute=30),
        "options": {"expires": 6 * 3600},
    },
    # Task rules (D11) put the day's follow-ups on managers' lists.
    "sop-task-rules": {
        "task": "workspace.task_rules",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 3 * 3600},
    },
    # Re-sends inbox rows the broker lost (down during the request, worker killed).
    "wecom-inbox-sweep": {
        "task": "scrm.wecom.tasks.inbox_sweep",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # Group health per day: figures, dormant/dying groups, rescue tasks (D6).
    "groups-health-daily": {
        "task": "groups.health_daily",
        "schedule": crontab(hour=6, minute=30),
        "options": {"expires": 3 * 3600},
    },
    # Coupons past their validity expire (their budget is released); ended campaigns end.
    "campaigns-expiry-sweep": {
        "task": "campaigns.expiry_sweep",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Campaign announcements whose task was lost are sent again.
    "campaigns-announcements-sweep": {
        "task": "campaigns.announcements_sweep",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Due payouts of the ledger (red packets, prizes, rewards): claimed, checked, paid.
    "payouts-pay-due": {
        "task": "payouts.pay_due",
        "schedule": PAYOUTS_DISPATCH_EVERY_S,
        "options": {"expires": max(1.0, PAYOUTS_DISPATCH_EVERY_S * 0.8)},
    },
    # Referral rewards on their day: counted again, then to the ledger or cancelled (D8).
    "referral-rewards-settle": {
        "task": "referral.rewards_settle",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Key spreaders: the top inviters' tag (in WeCom) and segment, refreshed nightly (D8).
    "referral-key-spreaders": {
        "task": "referral.key_spreaders_refresh",
        "schedule": crontab(hour=4, minute=15),
        "options": {"expires": 3 * 3600},
    },
    # Audit records past AUDIT_RETENTION_DAYS (at least six months) are deleted (D14).
    "core-audit-purge": {
        "task": "core.audit_purge",
        "schedule": crontab(hour=3, minute=45),
        "options": {"expires": 6 * 3600},
    },
    # Nightly reconciliation with WeCom: callbacks can be lost or arrive out of order.
    "wecom-nightly-sync": {
        "task": "scrm.wecom.tasks.wecom_sync",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 6 * 3600},
    },
}
