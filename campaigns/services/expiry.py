"""The periodic expiry of coupons past their validity (D7).

Batches of claimed coupons are locked (skipping rows a redemption holds), moved
to ``expired`` by a guarded update, and the budget they held is released in the
same transaction. A redemption racing the job either wins (the coupon is
redeemed) or finds the coupon expired; never both.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import Campaign, Coupon

BATCH = 500


def coupons_expire(*, now: datetime | None = None, batch: int = BATCH) -> int:
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                Coupon.objects.select_for_update(skip_locked=True)
                .filter(status=Coupon.Status.CLAIMED, valid_until__lte=now)
                .order_by("pk")
                .values_list("pk", "campaign_id", "reserved_fen")[:batch]
            )
            if not rows:
                return total
            ids = [pk for pk, _c, _r in rows]
            total += Coupon.objects.filter(pk__in=ids, status=Coupon.Status.CLAIMED).update(
                status=Coupon.Status.EXPIRED, expired_at=now
            )
            released: dict[int, int] = defaultdict(int)
            for _pk, campaign_id, reserved in rows:
                released[campaign_id] += reserved
            for campaign_id, amount in sorted(released.items()):
                if amount:
                    Campaign.objects.filter(pk=campaign_id).update(
                        budget_committed_fen=F("budget_committed_fen") - amount
                    )
        if len(rows) < batch:
            return total
