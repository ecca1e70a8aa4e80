"""Redeeming coupons at merchants (核销) and reversing a redemption (冲正).

A coupon moves ``claimed → redeemed`` by one guarded update (``WHERE status =
'claimed'``), so of any number of concurrent redemptions of one code exactly one
wins; the partial unique index on standing redemptions backs it. A reversal moves
the redemption to ``reversed`` and the coupon back to ``claimed``, once, within the
campaign's reversal window.

The checks come in an order that tells a merchant nothing about other merchants'
coupons: a malformed or unknown code is ``not_found``; a coupon the merchant may
not redeem is ``wrong_merchant`` before its status is revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError

from ..codes import code_is_well_formed, code_normalize
from ..models import Coupon, Merchant, Redemption, Store
from ..money import fen_display
from .claims import SHANGHAI, regions_with_descendants

MAX_AMOUNT_FEN = 10**12  # ten billion yuan: anything above is a typo or an attack


@dataclass(frozen=True)
class RedeemResult:
    redemption: Redemption
    coupon: Coupon


def _not_found() -> DomainError:
    return DomainError("not_found", _("券码不存在"), status=404)


def _store_of(merchant: Merchant, store_code: str) -> Store | None:
    if not store_code:
        return None
    store = Store.objects.filter(merchant=merchant, code=store_code, is_active=True).first()
    if store is None:
        raise DomainError("store_not_found", _("门店编号不存在"), status=422)
    return store


def _may_redeem(coupon: Coupon, merchant: Merchant, store: Store | None) -> bool:
    template = coupon.template
    merchant_ids = set(template.merchants.values_list("pk", flat=True))
    if merchant_ids and merchant.pk not in merchant_ids:
        return False
    region_ids = set(template.regions.values_list("pk", flat=True))
    if region_ids:
        where = (store.region_id if store else None) or merchant.region_id
        if where is None or where not in regions_with_descendants(region_ids):
            return False
    return True


def coupon_valid_now(coupon: Coupon, now: datetime) -> str | None:
    """None when the coupon may be used at ``now``; else "expired" or "not_valid_now"."""
    if coupon.status == Coupon.Status.EXPIRED or now >= coupon.valid_until:
        return "expired"
    if now < coupon.valid_from:
        return "not_valid_now"
    template = coupon.template
    local = now.astimezone(SHANGHAI)
    if template.valid_weekdays and local.isoweekday() not in template.valid_weekdays:
        return "not_valid_now"
    start, end = template.valid_time_from, template.valid_time_until
    if start and end and not start <= local.time() < end:
        return "not_valid_now"
    return None


def _validity_error(reason: str) -> DomainError:
    if reason == "expired":
        return DomainError("expired", _("优惠券已过期"), status=409)
    return DomainError(
        "not_valid_now", _("优惠券当前时段不可用，请在可用日期和时段内使用"), status=409
    )


def _already_redeemed() -> DomainError:
    return DomainError("already_redeemed", _("优惠券已核销"), status=409)


@transaction.atomic
def coupon_redeem(
    *,
    merchant: Merchant,
    code: str,
    amount_fen: int,
    store_code: str = "",
    via: str = Redemption.Via.API,
    now: datetime | None = None,
) -> RedeemResult:
    now = now or timezone.now()
    if type(amount_fen) is not int or not 0 <= amount_fen <= MAX_AMOUNT_FEN:
        raise DomainError(
            "invalid", _("订单金额须为不小于 0 的整数（分）"), data={"field": "amount_fen"}
        )
    normalized = code_normalize(code)
    if not code_is_well_formed(normalized):
        raise _not_found()
    coupon = Coupon.objects.select_related("template", "campaign").filter(code=normalized).first()
    if coupon is None:
        raise _not_found()
    store = _store_of(merchant, (store_code or "").strip())
    if not _may_redeem(coupon, merchant, store):
        raise DomainError("wrong_merchant", _("该优惠券不能在本商户或本地区核销"), status=403)
    if coupon.status == Coupon.Status.REDEEMED:
        raise _already_redeemed()
    reason = coupon_valid_now(coupon, now)
    if reason:
        raise _validity_error(reason)
    template = coupon.template
    if amount_fen < template.min_spend_fen:
        raise DomainError(
            "below_minimum",
            _("订单金额未达到最低消费 %(yuan)s 元") % {"yuan": fen_display(template.min_spend_fen)},
            status=422,
            data={"min_spend_fen": template.min_spend_fen},
        )
    won = Coupon.objects.filter(
        pk=coupon.pk, status=Coupon.Status.CLAIMED, valid_until__gt=now
    ).update(status=Coupon.Status.REDEEMED, redeemed_at=now)
    if won != 1:
        # Somebody else redeemed it (or the expiry job took it) since we read it.
        status = Coupon.objects.filter(pk=coupon.pk).values_list("status", flat=True).first()
        if status == Coupon.Status.REDEEMED:
            raise _already_redeemed()
        raise _validity_error("expired")
    redemption = Redemption.objects.create(
        coupon=coupon,
        merchant=merchant,
        store=store,
        amount_fen=amount_fen,
        discount_fen=template.discount_for(amount_fen),
        via=via,
        redeemed_at=now,
    )
    coupon.status, coupon.redeemed_at = Coupon.Status.REDEEMED, now
    return RedeemResult(redemption=redemption, coupon=coupon)


@transaction.atomic
def redemption_reverse(
    *, merchant: Merchant, redemption_id: int, now: datetime | None = None
) -> RedeemResult:
    """The merchant takes back a redemption (the order was cancelled): the coupon
    can be used again. Once per redemption, within the campaign's window."""
    now = now or timezone.now()
    redemption = (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("coupon", "coupon__campaign")
        .filter(pk=redemption_id, merchant=merchant)
        .first()
    )
    if redemption is None:
        raise DomainError("not_found", _("核销记录不存在"), status=404)
    if redemption.status == Redemption.Status.REVERSED:
        raise DomainError("already_reversed", _("该核销已冲正"), status=409)
    window = timedelta(minutes=redemption.coupon.campaign.reversal_window_minutes)
    if now - redemption.redeemed_at > window:
        raise DomainError(
            "reversal_window_passed",
            _("已超过冲正时限（核销后 %(m)s 分钟内）") % {"m": int(window.total_seconds() // 60)},
            status=409,
        )
    Redemption.objects.filter(pk=redemption.pk, status=Redemption.Status.REDEEMED).update(
        status=Redemption.Status.REVERSED, reversed_at=now
    )
    back = Coupon.objects.filter(pk=redemption.coupon_id, status=Coupon.Status.REDEEMED).update(
        status=Coupon.Status.CLAIMED, redeemed_at=None
    )
    if back != 1:  # the standing redemption and the coupon's status always go together
        raise DomainError("conflict", _("优惠券状态异常，请联系运营"), status=409)
    redemption.status, redemption.reversed_at = Redemption.Status.REVERSED, now
    coupon = redemption.coupon
    coupon.status, coupon.redeemed_at = Coupon.Status.CLAIMED, None
    return RedeemResult(redemption=redemption, coupon=coupon)
