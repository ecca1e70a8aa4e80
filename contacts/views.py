"""Customer H5 pages (verify phone, unsubscribe) and the managers' customer pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from scrm.core.errors import DomainError

from . import hooks
from .bank import customer_bind_by_manager, customer_from_verify_token, customer_verify_by_phone
from .models import Customer, FollowRelation
from .privacy import (
    customer_from_unsubscribe_token,
    customer_marketing_opt_out,
    customer_masked_pii,
)
from .selectors import customer_list, customer_timeline, customers_visible_to

CUSTOMERS_PER_PAGE = 25
_TAGS_SHOWN = 3
_VERIFIED_FILTER = {"yes": True, "no": False}


@require_http_methods(["GET", "POST"])
def h5_verify(request, token: str):
    """The customer confirms their phone; no SMS code here: the signed link is the proof
    of who received it, the phone is matched against the bank's records by hash (D4)."""
    context: dict = {"token": token}
    try:
        customer = customer_from_verify_token(token)
    except DomainError as exc:
        return render(request, "contacts/h5_verify.html", {"error": exc.message}, status=400)
    context["verified"] = customer.verified_at is not None
    if request.method == "POST" and not context["verified"]:
        try:
            customer_verify_by_phone(token=token, phone=request.POST.get("phone", ""))
            context["verified"] = True
        except DomainError as exc:
            context["error"] = exc.message
    return render(request, "contacts/h5_verify.html", context)


@require_http_methods(["GET", "POST"])
def h5_unsubscribe(request, token: str):
    try:
        customer = customer_from_unsubscribe_token(token)
    except DomainError as exc:
        return render(request, "contacts/h5_unsubscribe.html", {"error": exc.message}, status=400)
    if request.method == "POST":
        customer = customer_marketing_opt_out(
            customer=customer, opted_out=request.POST.get("resume") != "1", source="h5"
        )
    return render(
        request,
        "contacts/h5_unsubscribe.html",
        {"token": token, "opted_out": customer.marketing_opt_out},
    )


@login_required
def customer_list_page(request):
    """「我的客户」: the customers the user may see (D14), searchable by name and
    filterable by verification and ring, a page at a time; phones masked (D14)."""
    q = (request.GET.get("q") or "").strip()
    verified = _VERIFIED_FILTER.get(request.GET.get("verified", ""))
    ring = request.GET.get("ring", "")
    if ring not in Customer.Ring.values:
        ring = ""
    customers = customer_list(
        user=request.user, q=q or None, verified=verified, ring=ring or None
    ).prefetch_related(
        Prefetch("follows", queryset=FollowRelation.objects.select_related("staff")),
    )
    page = Paginator(customers, CUSTOMERS_PER_PAGE).get_page(request.GET.get("page"))
    labels: dict[int, list[str]] = {}
    for found in hooks.customer_labels.call(customer_ids=[c.pk for c in page]):
        for customer_id, names in found.items():
            labels.setdefault(customer_id, []).extend(names)
    rows = []
    for c in page:
        tags = labels.get(c.pk, [])
        rows.append(
            {
                "customer": c,
                "phones": customer_masked_pii(c)["phones"],
                "managers": [
                    f.staff.name
                    for f in c.follows.all()
                    if f.status == FollowRelation.Status.ACTIVE
                ],
                "tags": tags[:_TAGS_SHOWN],
                "more_tags": len(tags) - _TAGS_SHOWN,
            }
        )
    return render(
        request,
        "contacts/customer_list.html",
        {
            "page": page,
            "rows": rows,
            "q": q,
            "verified": request.GET.get("verified", "") if verified is not None else "",
            "ring": ring,
            "rings": Customer.Ring.choices,
            "filtered": bool(q or ring or verified is not None),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_detail_page(request, pk: int):
    customer = (
        customers_visible_to(request.user)
        .select_related("bank_record", "first_channel")
        .prefetch_related("follows")
        .filter(pk=pk)
        .first()
    )
    if customer is None:
        raise Http404(_("客户不存在或无权查看"))
    error = ""
    if request.method == "POST":
        try:
            customer = customer_bind_by_manager(
                user=request.user,
                customer_id=pk,
                customer_no=request.POST.get("customer_no", ""),
                phone=request.POST.get("phone", ""),
            )
        except DomainError as exc:
            error = exc.message
    return render(
        request,
        "contacts/customer_detail.html",
        {
            "customer": customer,
            "pii": customer_masked_pii(customer),
            "timeline": customer_timeline(customer=customer),
            "insights": [
                section
                for sections in hooks.customer_insights.call(customer=customer, user=request.user)
                for section in sections or []
            ],
            "error": error,
        },
    )
