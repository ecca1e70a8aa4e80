"""Customer-facing pages of tracked materials: the redirect of a tracked link
(``/t/<token>``), our own article page (``/h5/a/<token>/``) and its reading-time
beacon. No login: the signed token names the material and the recipient."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scrm.core.links import LinkInvalid

from . import links
from .models import Material
from .services import material_article, material_dwell, material_open

log = logging.getLogger(__name__)


def _registered_url(token: str) -> str:
    """Where a link that failed its check goes: the URL we registered for the material
    its (unsigned) first part names, else a neutral page of ours. Never a URL taken
    from the request."""
    material_id = links.material_part(token)
    if material_id is not None:
        url = Material.objects.filter(pk=material_id).values_list("url", flat=True).first()
        if url:
            return url
    return reverse("behaviour:link-gone")


def _redirect(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"  # every open must reach us
    response["Referrer-Policy"] = "no-referrer"  # the token stays ours
    return response


@require_http_methods(["GET", "HEAD"])
def tracked_link(request: HttpRequest, token: str) -> HttpResponse:
    """Record the open and send the customer on to the material."""
    try:
        links.token_read(token)
    except LinkInvalid as exc:
        log.info("tracked link refused (%s)", exc.reason)
        return _redirect(_registered_url(token))
    material = Material.objects.filter(pk=links.material_part(token)).first()
    if material is None:
        return _redirect(reverse("behaviour:link-gone"))
    if material_article(material) is not None:  # our own page records the open
        return _redirect(reverse("behaviour:h5-article", args=[token]))
    if request.method == "GET":  # a HEAD is a link checker, not a reader
        material_open(token=token, material=material)
    return _redirect(material.url)


@require_GET
def link_gone(request: HttpRequest) -> HttpResponse:
    return render(request, "behaviour/h5_gone.html")


@require_GET
def h5_article(request: HttpRequest, token: str) -> HttpResponse:
    """Our own article page: the material's title and the approved text of its
    library content; a small script reports the reading time when the page is left."""
    try:
        opened = material_open(token=token)
    except LinkInvalid as exc:
        return render(request, "behaviour/h5_gone.html", {"error": exc.message}, status=403)
    version = material_article(opened.material)
    if version is None:  # no longer an approved article: the material itself
        return _redirect(opened.material.url)
    context = {
        "material": opened.material,
        "paragraphs": [p for p in version.text.splitlines() if p.strip()],
        "dwell_url": reverse("behaviour:h5-article-dwell", args=[token]),
        "view": opened.view,
        "track": opened.link.customer_id is not None,
    }
    response = render(request, "behaviour/h5_article.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt  # a beacon from the customer's browser, with no session; the token is signed
@require_POST
def h5_article_dwell(request: HttpRequest, token: str) -> HttpResponse:
    try:
        material_dwell(
            token=token, view=request.POST.get("view", ""), seconds=request.POST.get("seconds")
        )
    except LinkInvalid:
        return HttpResponse(_("链接无效"), status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(status=204)
