"""People and roles: who can sign in where, in which language."""

import pytest
from django.contrib.auth.models import Group

from scrm.core.roles import ROLE_PERMISSIONS, Role, roles_sync


@pytest.mark.django_db
def test_every_role_exists_as_a_group_after_migrate():
    names = set(Group.objects.values_list("name", flat=True))
    assert {r.value for r in Role} <= names


@pytest.mark.django_db
def test_roles_sync_is_idempotent_and_grants_ops_write_but_managers_only_view():
    first = roles_sync()
    second = roles_sync()
    assert first == second
    ops = Group.objects.get(name=Role.OPS_STAFF)
    manager = Group.objects.get(name=Role.CUSTOMER_MANAGER)
    ops_codes = set(ops.permissions.values_list("codename", flat=True))
    manager_codes = set(manager.permissions.values_list("codename", flat=True))
    assert {"add_customer", "change_channelcode", "view_customergroup"} <= ops_codes
    assert "view_customer" in manager_codes
    assert not any(c.startswith(("add_", "change_", "delete_")) for c in manager_codes)
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.django_db
def test_login_page_is_in_simplified_chinese_by_default(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="zh-hans"' in html
    assert "登录" in html and "密码" in html


@pytest.mark.django_db
def test_login_page_is_available_in_english(client):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert 'lang="en"' in html
    assert "Log in" in html and "Password" in html


@pytest.mark.django_db
def test_wrong_password_shows_an_error_in_chinese_and_keeps_the_username(client, cast):
    response = client.post("/accounts/login/", {"username": "manager_a", "password": "nope"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "请输入一个正确的" in html
    assert 'value="manager_a"' in html


@pytest.mark.django_db
def test_ops_staff_land_in_the_admin_after_login(client, cast):
    response = client.post(
        "/accounts/login/", {"username": "ops", "password": "Secret-pass-1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/admin/"
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_customer_manager_cannot_enter_the_admin(client, cast):
    client.force_login(cast.manager_a)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_ops_staff_see_customers_but_not_user_accounts_in_the_admin(client, cast):
    client.force_login(cast.ops)
    assert client.get("/admin/contacts/customer/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403


@pytest.mark.django_db
def test_audit_records_cannot_be_edited_or_deleted_even_by_the_ops_admin(client, cast):
    from scrm.core.models import AuditEvent

    event = AuditEvent.objects.create(action=AuditEvent.Action.EXPORT, actor_name="x")
    client.force_login(cast.ops_admin)
    assert client.get("/admin/core/auditevent/").status_code == 200
    page = client.get(f"/admin/core/auditevent/{event.pk}/change/")
    assert page.status_code == 200  # readable, without a save button
    assert b'name="_save"' not in page.content
    edit = client.post(f"/admin/core/auditevent/{event.pk}/change/", {"actor_name": "y"})
    assert edit.status_code == 403
    assert client.post(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    event.refresh_from_db()
    assert event.actor_name == "x"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/contacts/bankrecord/",
        "/admin/contacts/customer/",
        "/admin/contacts/timelineentry/",
        "/admin/contacts/branch/",
        "/admin/groups/customergroup/",
        "/admin/tagging/customertag/",
        "/admin/core/auditevent/",
    ],
)
def test_compliance_reviewers_do_not_see_the_bank_customer_file(client, cast, url):
    """Least privilege (D14): reviewing content needs no customer data."""
    client.force_login(cast.compliance)
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_compliance_reviewers_keep_the_content_library_and_review_queue(client, cast):
    client.force_login(cast.compliance)
    for url in (
        "/admin/content/content/",
        "/admin/content/contentreviewqueue/",
        "/admin/content/contentreview/",
        "/admin/content/bannedphrase/",
    ):
        assert client.get(url).status_code == 200, url
    codes = set(
        Group.objects.get(name=Role.COMPLIANCE_REVIEWER)
        .permissions.values_list("content_type__app_label", flat=True)
        .distinct()
    )
    assert codes <= {"content", "campaigns"}
    assert "content" in codes


@pytest.mark.django_db
@pytest.mark.parametrize("app_label", ["sop", "workspace"])
def test_ops_staff_open_every_sop_and_task_admin_page(client, cast, app_label):
    """Ops run the SOP calendar (D6) and the task rules (D11): every changelist is theirs."""
    from django.contrib import admin
    from django.urls import reverse

    models = [m for m in admin.site._registry if m._meta.app_label == app_label]
    assert models
    client.force_login(cast.ops)
    for model in models:
        url = reverse(f"admin:{app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
    assert client.get(f"/admin/{app_label}/").status_code == 200
