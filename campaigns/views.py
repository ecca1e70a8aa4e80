"""The customer's H5 pages (claim by personal link, my coupons with QR codes) and the
store staff's scan-to-redeem page.

The claim page answers JSON to a client that asks for it (``Accept:
application/json``), so the same code path serves the page's form and scripted
clients (the load benchmark). It is CSRF-exempt on purpose: the signed link in the
URL is the credential, not a cookie a third-party page could ride on.
"""

from __future__ import annotations

import functools
import uuid

import segno
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from scrm.core.errors import DomainError

from .codes import code_display, code_normalize
from .links import (
    PERSONAL_LINK_VIEWS,
    LinkInvalid,
    claim_token_read,
    redeem_url,
    wallet_token_make,
    wallet_token_read,
)
from .models import Coupon, MerchantStaff, Redemption
from .money import fen_display, yuan_to_fen
from .selectors import claim_page, coupons_of_customer, template_benefit
from .serializers import datetime_text
from .services.claims import ClaimRefused, claim_refusal_record, contact_record, coupon_claim
from .services.idempotency import Answer, idempotent, request_fingerprint
from .services.redemption import coupon_redeem


def client_ip(request: HttpRequest) -> str | None:
    # Behind the bank's reverse proxy the first X-Forwarded-For hop is the client.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    ip = forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR", "")
    return ip or None


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _refusal(request: HttpRequest, exc: DomainError, context: dict | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(exc.as_dict(), status=exc.status)
    return render(
        request,
        "campaigns/h5_claim.html",
        {**(context or {}), "error": exc.message, "error_code": exc.code},
        status=exc.status,
    )


@functools.cache
def _wallet_path_template() -> str:
    return reverse("campaigns:h5-coupons", args=["TOKEN"])


def _wallet_path(customer_id: int) -> str:
    return _wallet_path_template().replace("TOKEN", wallet_token_make(customer_id=customer_id))


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def h5_claim(request: HttpRequest, token: str) -> HttpResponse:
    ip = client_ip(request)
    try:
        link = claim_token_read(token)
    except LinkInvalid as exc:
        claim_refusal_record(code=exc.code, reason=exc.reason, source=Coupon.Source.LINK, ip=ip)
        return _refusal(request, exc)
    if request.method == "POST":
        try:
            result = coupon_claim(
                customer_id=link.customer_id,
                campaign_id=link.campaign_id,
                template_id=_int(request.POST.get("template")),
                source=Coupon.Source.LINK,
                ip=ip,
            )
        except ClaimRefused as exc:
            page = None if _wants_json(request) else _page_context(link, token)
            return _refusal(request, exc, page)
        wallet = _wallet_path(link.customer_id)
        if _wants_json(request):
            body = {
                "claim": str(result.claim_ref),
                "coupons": [
                    {"code": c.code, "valid_until": datetime_text(c.valid_until)}
                    for c in result.coupons
                ],
                "wallet": wallet,
            }
            return JsonResponse(body, status=201)
        return redirect(f"{wallet}?new={result.claim_ref}")
    context = _page_context(link, token)
    if context is None:
        exc = LinkInvalid(_("链接无效"), reason="campaign_unknown")
        claim_refusal_record(code=exc.code, reason=exc.reason, source=Coupon.Source.LINK, ip=ip)
        return _refusal(request, exc)
    other_page = PERSONAL_LINK_VIEWS.get(context["page"].campaign.kind)
    if other_page:  # the same personal link, for a campaign kind with its own page
        return redirect(reverse(other_page, args=[token]))
    contact_record(campaign_id=link.campaign_id, customer_id=link.customer_id, opened=True)
    return render(request, "campaigns/h5_claim.html", context)


def _page_context(link, token: str) -> dict | None:
    page = claim_page(customer_id=link.customer_id, campaign_id=link.campaign_id)
    if page is None:
        return None
    wallet = _wallet_path(link.customer_id)
    return {
        "page": page,
        "options": [
            {
                "template": option.template,
                "benefit": template_benefit(option.template),
                "claimed": option.claimed,
                "left": option.template.stock_remaining > 0,
            }
            for option in page.options
        ],
        "token": token,
        "wallet_url": wallet,
    }


def _qr(code: str) -> str:
    return segno.make(redeem_url(code=code), error="m").png_data_uri(scale=5, border=2)


@require_GET
def h5_coupons(request: HttpRequest, token: str) -> HttpResponse:
    try:
        customer_id = wallet_token_read(token)
    except LinkInvalid as exc:
        return render(request, "campaigns/h5_coupons.html", {"error": exc.message}, status=403)
    now = timezone.now()
    new = request.GET.get("new", "")
    coupons = []
    for coupon in coupons_of_customer(customer_id=customer_id)[:100]:
        usable = coupon.status == Coupon.Status.CLAIMED and coupon.valid_until > now
        coupons.append(
            {
                "coupon": coupon,
                "code": code_display(coupon.code),
                "benefit": template_benefit(coupon.template, instalment=coupon.instalment_no),
                "usable": usable,
                "pending": usable and coupon.valid_from > now,
                "status": _("已过期")
                if coupon.status == "claimed" and not usable
                else coupon.get_status_display(),
                "qr": _qr(coupon.code) if usable else "",
                "new": str(coupon.claim_ref) == new,
            }
        )
    return render(request, "campaigns/h5_coupons.html", {"coupons": coupons})


# --------------------------------------------------------------------------- store staff


@login_required
@require_http_methods(["GET", "POST"])
def merchant_redeem(request: HttpRequest) -> HttpResponse:
    """Store staff scan a customer's QR (it opens this page with the code filled in),
    enter the order amount and confirm. A double tap sends the same form key, so it
    is answered once (the idempotency record), never redeemed twice."""
    staff = (
        MerchantStaff.objects.select_related("merchant", "store").filter(user=request.user).first()
    )
    if staff is None or not staff.merchant.is_active:
        return render(
            request,
            "campaigns/merchant_redeem.html",
            {"forbidden": True},
            status=403,
        )
    stores = list(staff.merchant.stores.filter(is_active=True).order_by("code"))
    context: dict = {
        "merchant": staff.merchant,
        "stores": stores,
        "store_code": staff.store.code if staff.store else "",
        "code": code_display(code_normalize(request.GET.get("code", ""))),
        "form_key": uuid.uuid4().hex,
    }
    if request.method == "POST":
        code = request.POST.get("code", "")
        amount_fen = yuan_to_fen(request.POST.get("amount", ""))
        store_code = request.POST.get("store", "") or context["store_code"]
        context.update(code=code, amount=request.POST.get("amount", ""), store_code=store_code)
        if amount_fen is None:
            context["error"] = _("请输入正确的订单金额（元，最多两位小数）")
            return render(request, "campaigns/merchant_redeem.html", context, status=400)
        data = {"code": code, "amount_fen": amount_fen, "store": store_code}

        def action() -> Answer:
            result = coupon_redeem(
                merchant=staff.merchant,
                code=code,
                amount_fen=amount_fen,
                store_code=store_code,
                via=Redemption.Via.H5,
            )
            return Answer(
                201,
                {
                    "code": result.coupon.code,
                    "title": result.coupon.template.title,
                    "discount_fen": result.redemption.discount_fen,
                    "amount_fen": amount_fen,
                },
            )

        form_key = (request.POST.get("form_key") or "")[:64] or uuid.uuid4().hex
        try:
            answer = idempotent(
                owner=f"merchant:{staff.merchant_id}",
                key=f"h5-{form_key}",
                fingerprint=request_fingerprint(method="POST", path="h5:redeem", data=data),
                action=action,
            )
        except DomainError as exc:
            answer = Answer(exc.status, exc.as_dict())
        if answer.status == 201:
            body = answer.body
            context.update(
                done=True,
                title=body["title"],
                discount=fen_display(body["discount_fen"]),
                to_pay=fen_display(body["amount_fen"] - body["discount_fen"]),
                code="",
                amount="",
            )
        else:
            context["error"] = answer.body.get("message", _("核销失败"))
        context["form_key"] = uuid.uuid4().hex
        return render(
            request,
            "campaigns/merchant_redeem.html",
            context,
            status=200 if answer.status == 201 else answer.status,
        )
    return render(request, "campaigns/merchant_redeem.html", context)
