"""Login lockout (django-axes) across the ways in: the login page and the admin share one
count and one lock, and the API takes no password at all (sessions come from those two
pages, tokens and merchant keys are not guessable passwords), so nothing bypasses it."""

from __future__ import annotations

import base64

import pytest
from rest_framework.authentication import BasicAuthentication
from rest_framework.views import APIView

from .matrix import endpoints

pytestmark = pytest.mark.django_db

LOCKED = "登录失败次数过多，账号已锁定 30 分钟"
PASSWORD = "Secret-pass-1"


def attempt(client, url, password, username="ops"):
    return client.post(url, {"username": username, "password": password})


def test_failures_on_both_login_pages_add_up_to_one_lock(client, cast):
    for url in ["/accounts/login/", "/admin/login/"] * 2:
        assert attempt(client, url, "wrong").status_code == 200
    fifth = attempt(client, "/accounts/login/", "wrong")
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()
    # Locked on the admin too, with the right password, and told why.
    admin = attempt(client, "/admin/login/", PASSWORD)
    assert admin.status_code == 429 and LOCKED in admin.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_locked_out_person_gets_no_api_access_either(client, cast):
    for _ in range(5):
        attempt(client, "/admin/login/", "wrong")
    assert attempt(client, "/accounts/login/", PASSWORD).status_code == 429
    response = client.get("/api/customers/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] and response.json()["message"]


def _api_views():
    for endpoint in endpoints():
        view = getattr(endpoint.pattern.callback, "cls", None)
        if isinstance(view, type) and issubclass(view, APIView):
            yield endpoint, view


def test_no_api_view_accepts_a_password():
    """A view with HTTP Basic (or any username/password) authentication would let
    passwords be guessed past the lockout."""
    views = list(_api_views())
    assert len(views) > 20
    for endpoint, view in views:
        for auth in view.authentication_classes:
            assert not issubclass(auth, BasicAuthentication), f"{endpoint.key}: {auth}"
            assert "password" not in (auth.authenticate.__doc__ or "").lower(), endpoint.key


def test_basic_credentials_open_nothing_in_the_api(client, cast):
    basic = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    response = client.get("/api/customers/", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code in (401, 403) and response.json()["code"]
