"""Campaign actions as behaviour events (tagging.behaviour, source ``action``).

Claims and redemptions are not recorded in their own transactions: the claim path
is the hottest write of the system. A periodic scan (``coupon_events_scan``, beat
``campaigns-coupon-events-scan``) reads coupons claimed and redemptions made since
its watermark, less an overlap for transactions that committed late, and records
them with event ids ``coupon_claimed:<coupon>`` and ``coupon_redeemed:<redemption>``:
a row scanned twice is recorded once. Lottery draws and referral successes record in
their own transactions (``lottery_drawn_record``, ``friend_invited_record``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from tagging.behaviour import types
from tagging.behaviour.services import (
    EventIn,
    event_record,
    events_record,
    watermark_get,
    watermark_set,
)

from ..models import Coupon, Redemption

CLAIMS_SCAN = "campaigns.coupon_claimed"
REDEMPTIONS_SCAN = "campaigns.coupon_redeemed"
OVERLAP = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(days=1)
CHUNK = 2000
MAX_CHUNKS = 50  # 100,000 rows a run; the next run goes on from there


def _scan(*, name: str, rows, at_field: str, build, now: datetime) -> int:
    """Walk ``rows`` from the watermark less the overlap, in (time, id) order, a chunk
    at a time; record each chunk's events; move the watermark on. The number of new
    events."""
    start = watermark_get(name=name, default=now - FIRST_LOOKBACK) - OVERLAP
    recorded = 0
    last_at, last_pk = start, 0
    for _chunk in range(MAX_CHUNKS):
        chunk = list(
            rows.filter(**{f"{at_field}__gte": last_at, f"{at_field}__lte": now})
            .exclude(**{at_field: last_at, "pk__lte": last_pk})
            .order_by(at_field, "pk")[:CHUNK]
        )
        if not chunk:
            watermark_set(name=name, at=now)
            return recorded
        recorded += len(events_record(events=[build(row) for row in chunk], source="action"))
        last_at, last_pk = chunk[-1][at_field], chunk[-1]["pk"]
        if len(chunk) < CHUNK:
            watermark_set(name=name, at=now)
            return recorded
    watermark_set(name=name, at=last_at)  # a backlog: the next run goes on from here
    return recorded


def _claimed(row: dict) -> EventIn:
    return EventIn(
        event_id=f"coupon_claimed:{row['pk']}",
        customer_id=row["customer_id"],
        type=types.COUPON_CLAIMED,
        occurred_at=row["claimed_at"],
        properties={
            "campaign": row["campaign_id"],
            "template": row["template_id"],
            "category": row["campaign__product_category"] or "",
            "source": row["source"],
        },
    )


def _redeemed(row: dict) -> EventIn:
    return EventIn(
        event_id=f"coupon_redeemed:{row['pk']}",
        customer_id=row["coupon__customer_id"],
        type=types.COUPON_REDEEMED,
        occurred_at=row["redeemed_at"],
        properties={
            "campaign": row["coupon__campaign_id"],
            "merchant": row["merchant_id"],
            "amount_fen": row["amount_fen"],
            "discount_fen": row["discount_fen"],
            "category": row["coupon__campaign__product_category"] or "",
        },
    )


def coupon_events_scan(*, now: datetime | None = None) -> dict[str, int]:
    """Record the coupons claimed and redeemed since the last scan as events; the
    numbers of new events (a re-scan of the overlap records nothing twice)."""
    now = now or timezone.now()
    claims = Coupon.objects.values(
        "pk",
        "customer_id",
        "campaign_id",
        "template_id",
        "claimed_at",
        "source",
        "campaign__product_category",
    )
    redemptions = Redemption.objects.filter(status=Redemption.Status.REDEEMED).values(
        "pk",
        "coupon__customer_id",
        "coupon__campaign_id",
        "merchant_id",
        "amount_fen",
        "discount_fen",
        "redeemed_at",
        "coupon__campaign__product_category",
    )
    return {
        "claimed": _scan(
            name=CLAIMS_SCAN, rows=claims, at_field="claimed_at", build=_claimed, now=now
        ),
        "redeemed": _scan(
            name=REDEMPTIONS_SCAN,
            rows=redemptions,
            at_field="redeemed_at",
            build=_redeemed,
            now=now,
        ),
    }


def lottery_drawn_record(*, draw, prize) -> None:
    """A lottery draw as an event, in the draw's transaction."""
    event_record(
        customer_id=draw.customer_id,
        type=types.LOTTERY_DRAWN,
        event_id=f"lottery_drawn:{draw.pk}",
        properties={
            "campaign": draw.campaign_id,
            "prize": prize.id,
            "prize_kind": prize.kind,
            "won": bool(draw.won),
        },
        occurred_at=draw.drawn_at,
    )


def friend_invited_record(*, invitation) -> None:
    """A referral invitation that reached its goal, as the inviter's event."""
    event_record(
        customer_id=invitation.inviter_id,
        type=types.FRIEND_INVITED,
        event_id=f"friend_invited:{invitation.pk}",
        properties={
            "program": invitation.program_id,
            "campaign": invitation.program.campaign_id,
            "invitee": invitation.invitee_id,
            "depth": invitation.depth,
        },
        occurred_at=invitation.succeeded_at,
    )
