"""The customer's H5 draw page, opened by their personal signed link (as a claim link).

GET shows the prizes, the rules and how many draws are left; POST draws. Like the claim
page it answers JSON to a client that asks for it (``Accept: application/json``), so
the page's form and scripted clients (the load benchmark) take the same path, and it is
CSRF-exempt on purpose: the signed link in the URL is the credential. The form carries a
one-time key, so a double tap is one draw.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.links import LinkInvalid, claim_token_read, wallet_token_make
from campaigns.money import fen_display
from campaigns.serializers import datetime_text
from campaigns.services.claims import claim_refusal_record, contact_record
from campaigns.views import client_ip
from scrm.core.errors import DomainError

from .models import Prize
from .selectors import draw_page, prize_benefit
from .services.draw import SOURCE, DrawResult, lottery_draw

TEMPLATE = "lottery/h5_draw.html"


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _wallet_path(customer_id: int) -> str:
    return reverse("campaigns:h5-coupons", args=[wallet_token_make(customer_id=customer_id)])


def result_text(result: DrawResult) -> str:
    prize = result.prize
    if prize.kind == Prize.Kind.THANKS:
        return _("谢谢参与，下次好运！")
    if prize.kind == Prize.Kind.RED_PACKET:
        return _("恭喜您抽中%(name)s！%(yuan)s 元现金红包将发放到您的微信零钱。") % {
            "name": prize.name,
            "yuan": fen_display(prize.amount_fen or 0),
        }
    if prize.kind == Prize.Kind.COUPON:
        return _("恭喜您抽中%(name)s！优惠券已放入“我的优惠券”。") % {"name": prize.name}
    return _("恭喜您抽中%(name)s！客户经理将与您联系领取礼品。") % {"name": prize.name}


def result_body(result: DrawResult, *, wallet: str) -> dict:
    draw = result.draw
    return {
        "draw": draw.pk,
        "won": draw.won,
        "prize": {"id": result.prize.id, "name": result.prize.name, "kind": result.prize.kind},
        "message": result_text(result),
        "coupons": [
            {"code": c.code, "valid_until": datetime_text(c.valid_until)} for c in result.coupons
        ],
        "wallet": wallet if result.coupons else None,
        "drawn_at": datetime_text(draw.drawn_at),
        "replayed": result.replayed,
    }


def _context(link, token: str, **extra) -> dict | None:
    page = draw_page(customer_id=link.customer_id, campaign_id=link.campaign_id)
    if page is None:
        return None
    return {
        "page": page,
        "prizes": [{"prize": p, "benefit": prize_benefit(p)} for p in page.prizes],
        "token": token,
        "form_key": uuid.uuid4().hex,
        "wallet_url": _wallet_path(link.customer_id),
        **extra,
    }


def _refusal(request: HttpRequest, exc: DomainError, context: dict | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(exc.as_dict(), status=exc.status)
    return render(
        request,
        TEMPLATE,
        {**(context or {}), "error": exc.message, "error_code": exc.code},
        status=exc.status,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def h5_draw(request: HttpRequest, token: str) -> HttpResponse:
    ip = client_ip(request)
    try:
        link = claim_token_read(token)
    except LinkInvalid as exc:
        claim_refusal_record(code=exc.code, reason=exc.reason, source=SOURCE, ip=ip)
        return _refusal(request, exc)
    if request.method == "POST":
        try:
            result = lottery_draw(
                customer_id=link.customer_id,
                campaign_id=link.campaign_id,
                ip=ip,
                request_key=(request.POST.get("form_key") or "")[:64],
            )
        except DomainError as exc:  # a refusal (recorded), or too busy to draw now
            page = None if _wants_json(request) else _context(link, token)
            return _refusal(request, exc, page)
        if _wants_json(request):
            wallet = _wallet_path(link.customer_id) if result.coupons else ""
            return JsonResponse(result_body(result, wallet=wallet), status=201)
        context = _context(link, token, result=result, result_text=result_text(result))
        return render(request, TEMPLATE, context)
    context = _context(link, token)
    if context is None:
        exc = LinkInvalid(_("链接无效"), reason="not_a_lottery")
        claim_refusal_record(code=exc.code, reason=exc.reason, source=SOURCE, ip=ip)
        return _refusal(request, exc)
    contact_record(campaign_id=link.campaign_id, customer_id=link.customer_id, opened=True)
    return render(request, TEMPLATE, context)
