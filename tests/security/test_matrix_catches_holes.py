"""The matrix is not vacuous: a view added without protection is reported, whether it
is left unclassified or classified and then served to the wrong people."""

from __future__ import annotations

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import clear_url_caches, path

from contacts.models import Customer
from scrm import urls as site_urls

from . import policy as P
from .matrix import matrix_run

pytestmark = pytest.mark.django_db


def open_report(request):
    """A deliberately unprotected view: every customer's name, to whoever asks."""
    return JsonResponse({"names": list(Customer.objects.values_list("name", flat=True))})


def open_page(request):
    return HttpResponse("<ul>" + "".join(f"<li>{c.name}" for c in Customer.objects.all()))


urlpatterns = [
    *site_urls.urlpatterns,
    path("api/leaky-report/", open_report, name="leaky-report"),
    path("leaky-page/", open_page, name="leaky-page"),
]


@pytest.fixture
def leaky_site():
    clear_url_caches()
    with override_settings(ROOT_URLCONF=__name__):
        yield
    clear_url_caches()


ROLES = (P.ANONYMOUS, P.CUSTOMER_MANAGER)


def leaky(endpoint) -> bool:
    """Request only the two added views (the site's own are walked by the role matrix;
    every URL is still classified, so an unknown one of the site would show up here)."""
    return endpoint.key.startswith("leaky-")


def problems_of(findings, key):
    return {(f.role, f.problem) for f in findings if f.key == key}


def test_an_unclassified_view_fails_the_matrix(world, leaky_site):
    findings, _ = matrix_run(world, urlconf=__name__, roles=ROLES, only=leaky)
    keys = {f.key for f in findings}
    assert {"leaky-report", "leaky-page"} <= keys
    assert {f.problem for f in findings if f.key == "leaky-report"} == {
        "URL not classified: add it to tests/security/policy.py POLICY"
    }
    # Every URL of the site is classified: only the two new ones are reported.
    assert keys == {"leaky-report", "leaky-page"}


def test_an_unprotected_view_classified_as_workspace_is_reported(world, leaky_site, monkeypatch):
    monkeypatch.setitem(P.POLICY, "leaky-report", P.api(P.USERS))
    monkeypatch.setitem(P.POLICY, "leaky-page", P.page())
    findings, _ = matrix_run(world, urlconf=__name__, roles=ROLES, only=leaky)
    report = problems_of(findings, "leaky-report")
    page = problems_of(findings, "leaky-page")
    assert (P.ANONYMOUS, "this role must be refused (401/403/404)") in report
    assert (P.ANONYMOUS, "a login page must send this caller to the login") in page
    leak = f"another manager's rows read: ['{world.customer_b.name}']"
    for role in ROLES:
        assert (role, leak) in report and (role, leak) in page
    assert {f.key for f in findings} == {"leaky-report", "leaky-page"}
