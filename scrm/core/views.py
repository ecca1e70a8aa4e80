from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.exceptions import NotFound

from .health import CHECKS, system_health
from .metrics import metrics_refusal, metrics_render
from .roles import Role, user_has_role


@never_cache
@require_GET
def healthz(request):
    only = [c for c in request.GET.get("only", "").split(",") if c in CHECKS]
    # Anonymous callers (load balancers, probes) get each check's ok, no details.
    healthy, checks = system_health(only or None, details=request.user.is_staff)
    failed = sorted(name for name, result in checks.items() if not result["ok"])
    body = {"status": "ok" if healthy else "fail", "failed": failed, "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def metrics(request):
    """Prometheus figures, for the scraper only (see ``metrics_refusal``)."""
    refused = metrics_refusal(request)
    if refused == 401:
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if refused:
        return HttpResponse("forbidden\n", status=refused, content_type="text/plain")
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)


@login_required
def home(request):
    """Send each person to where their work is."""
    user = request.user
    if user.is_staff:
        return redirect("admin:index")
    if user_has_role(user, Role.CUSTOMER_MANAGER) or user_has_role(user, Role.BRANCH_MANAGER):
        return redirect("workspace")
    return render(request, "home.html", {"is_manager": False})


def not_found(request, exception=None):
    """404 for a path no URL matches: the API's JSON error under /api/ (a client gets
    ``{"code", "message"}`` there too, e.g. for an id the route's converter refuses),
    Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": str(NotFound.default_detail)}, status=404
        )
    return page_not_found(request, exception)
