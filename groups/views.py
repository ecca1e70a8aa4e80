"""Customer H5 pages (they open inside WeChat): join your local benefits group (D3, D4)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from scrm.core.errors import DomainError

from .routing import routing_index
from .serializers import RoutingInput
from .services import routing_decide


@never_cache
@require_GET
def join_page(request):
    """Without a location: the page asks the browser for one (or shows the city
    picker). With ``lat``/``lng`` or ``region``: the routed group, behind the gate."""
    token = request.GET.get("t", "")
    wants_route = bool(request.GET.get("region")) or (
        bool(request.GET.get("lat")) and bool(request.GET.get("lng"))
    )
    decision = None
    error = ""
    if wants_route:
        params = RoutingInput(data=request.GET)
        if params.is_valid():
            v = params.validated_data
            try:
                decision = routing_decide(
                    lat=v.get("lat"), lng=v.get("lng"), region_code=v.get("region"), token=token
                )
            except DomainError as exc:
                error = exc.message
        else:
            error = _("位置信息无效，请手动选择城市。")
    context = {
        "decision": decision,
        "error": error,
        "token": token,
        "pick": request.GET.get("pick") == "1" or bool(error),
        "provinces": routing_index().provinces_with_cities(),
    }
    return render(request, "groups/join.html", context)
