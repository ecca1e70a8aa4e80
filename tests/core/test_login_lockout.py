"""Login lockout (django-axes): five wrong passwords for one username from one address
lock that pair out for 30 minutes, on the login page and the admin (D14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.core.management import call_command
from django.utils import timezone

pytestmark = pytest.mark.django_db

LOCKED = "登录失败次数过多，账号已锁定 30 分钟"
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


def attempt(client, url, username, password, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail_five_times(client, url, username="ops"):
    for _ in range(4):
        response = attempt(client, url, username, "wrong-password")
        assert response.status_code == 200  # the ordinary "wrong password" form error
        assert not logged_in(client)
    fifth = attempt(client, url, username, "wrong-password")
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, cast, url):
    fail_five_times(client, url)
    response = attempt(client, url, "ops", "Secret-pass-1")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not logged_in(client)


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_after_a_reset_the_right_password_works_again(client, cast, url):
    fail_five_times(client, url)
    assert reset(username="ops") == 1
    response = attempt(client, url, "ops", "Secret-pass-1")
    assert response.status_code == 302
    assert logged_in(client)


def test_the_lock_ends_after_thirty_minutes(client, cast):
    fail_five_times(client, "/accounts/login/")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    assert attempt(client, "/accounts/login/", "ops", "Secret-pass-1").status_code == 302


def test_an_ops_admin_unlocks_with_the_management_command(client, cast):
    fail_five_times(client, "/admin/login/")
    call_command("axes_reset_username", "ops")
    assert attempt(client, "/admin/login/", "ops", "Secret-pass-1").status_code == 302


def test_the_lock_is_per_username_and_address(client, cast):
    fail_five_times(client, "/accounts/login/")
    # The same person from another address, and another person from this one, still log in.
    other_ip = attempt(client, "/accounts/login/", "ops", "Secret-pass-1", REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 302
    client.logout()
    other_user = attempt(client, "/accounts/login/", "manager_a", "Secret-pass-1")
    assert other_user.status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, cast):
    for _ in range(4):
        attempt(client, "/accounts/login/", "ops", "wrong-password")
    assert attempt(client, "/accounts/login/", "ops", "Secret-pass-1").status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, "/accounts/login/", "ops", "wrong-password")
    assert attempt(client, "/accounts/login/", "ops", "Secret-pass-1").status_code == 302


def test_the_lockout_page_is_in_english_with_accept_language_en(client, cast):
    fail_five_times(client, "/accounts/login/")
    response = attempt(
        client, "/accounts/login/", "ops", "Secret-pass-1", HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 429
    assert "Too many failed logins" in html and LOCKED not in html
