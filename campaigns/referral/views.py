"""The inviter's H5 invite page: the manager's (or the group's) QR code carrying the
inviter's own ``state``, the tiers and the inviter's progress. The signed link is the
credential; the page only reads (its first open makes the code in WeCom)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from campaigns.links import LinkInvalid, claim_token_read
from campaigns.services.claims import contact_record
from scrm.core.errors import DomainError

from .links import invite_token_make, invite_token_read
from .selectors import invite_page
from .services import invite_code_ensure, program_of_campaign

TEMPLATE = "referral/h5_invite.html"


@require_GET
def h5_invite(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = invite_token_read(token)
    except LinkInvalid as exc:
        return render(request, TEMPLATE, {"error": exc.message, "error_code": exc.code}, status=403)
    program = program_of_campaign(link.campaign_id)
    if program is None:
        exc = LinkInvalid(_("链接无效"), reason="campaign_unknown")
        return render(request, TEMPLATE, {"error": exc.message, "error_code": exc.code}, status=403)
    context: dict = {"campaign": program.campaign, "program": program}
    try:
        code = invite_code_ensure(program=program, inviter_id=link.customer_id)
    except DomainError as exc:
        context.update(error=exc.message, error_code=exc.code)
        return render(request, TEMPLATE, context, status=exc.status)
    contact_record(campaign_id=program.campaign_id, customer_id=link.customer_id, opened=True)
    context["page"] = invite_page(program=program, code=code)
    return render(request, TEMPLATE, context)


@require_GET
def h5_invite_from_claim(request: HttpRequest, token: str) -> HttpResponse:
    """A referral campaign's personal claim link (what its announcements carry) opens
    the customer's invite page."""
    try:
        link = claim_token_read(token)
    except LinkInvalid as exc:
        return render(request, TEMPLATE, {"error": exc.message, "error_code": exc.code}, status=403)
    invite = invite_token_make(customer_id=link.customer_id, campaign_id=link.campaign_id)
    return redirect(reverse("referral:h5-invite", args=[invite]))
