"""API tokens in the admin: ops see whose token it is, never the key itself."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(cast):
    return Token.objects.create(user=cast.manager_a)


@pytest.fixture
def admin_client(client, cast):
    client.force_login(cast.ops_admin)
    return client


def test_the_token_list_shows_a_masked_key_and_its_owner(admin_client, token):
    response = admin_client.get("/admin/authtoken/tokenproxy/")
    assert response.status_code == 200
    page = response.content.decode()
    assert token.key not in page
    assert f"{token.key[:4]}…" in page and "manager_a" in page


def test_tokens_are_found_by_username_not_by_key(admin_client, token):
    by_key = admin_client.get("/admin/authtoken/tokenproxy/", {"q": token.key})
    assert by_key.context["cl"].result_count == 0
    by_user = admin_client.get("/admin/authtoken/tokenproxy/", {"q": "manager_a"})
    assert by_user.context["cl"].result_count == 1
    assert token.key not in by_user.content.decode()


@pytest.mark.parametrize("page", ["change", "delete", "history"])
def test_no_token_page_shows_the_full_key(admin_client, token, cast, page):
    response = admin_client.get(f"/admin/authtoken/tokenproxy/{cast.manager_a.pk}/{page}/")
    assert response.status_code == 200
    assert token.key not in response.content.decode()


def test_adding_a_token_names_it_masked_in_the_message_and_the_log(admin_client, cast):
    from django.contrib.admin.models import LogEntry

    response = admin_client.post(
        "/admin/authtoken/tokenproxy/add/", {"user": cast.manager_b.pk}, follow=True
    )
    key = Token.objects.get(user=cast.manager_b).key
    assert response.status_code == 200
    assert key not in response.content.decode()
    assert LogEntry.objects.get().object_repr == f"{key[:4]}…"
