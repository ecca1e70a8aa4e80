"""API errors always come back as JSON with a code and a message."""

import pytest
from rest_framework.test import APIClient

from scrm.core.api import exception_handler
from scrm.core.errors import DomainError


@pytest.mark.django_db
def test_unauthenticated_api_call_gets_json_code_and_message():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code in (401, 403)
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["message"]


def test_domain_error_becomes_json_with_its_code_and_status():
    response = exception_handler(DomainError("stock_empty", "库存不足", status=409), {})
    assert response.status_code == 409
    assert response.data == {"code": "stock_empty", "message": "库存不足"}


def test_domain_error_data_comes_back_beside_code_and_message():
    error = DomainError("stock_empty", "库存不足", status=409, data={"stock_left": 0})
    response = exception_handler(error, {})
    assert response.data == {"code": "stock_empty", "message": "库存不足", "stock_left": 0}


def test_domain_error_data_cannot_replace_code_or_message():
    with pytest.raises(ValueError, match="code"):
        DomainError("x", "y", data={"code": "other"})


def test_validation_errors_carry_the_first_message_and_the_fields():
    from rest_framework.exceptions import ValidationError

    response = exception_handler(ValidationError({"phone": ["手机号格式不正确"]}), {})
    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert response.data["message"] == "手机号格式不正确"
    assert "phone" in response.data["fields"]


@pytest.mark.django_db
def test_openapi_schema_is_served_to_signed_in_users(client, cast):
    client.force_login(cast.ops)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content


@pytest.fixture
def small_uploads(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 20
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_form_over_the_upload_limit_gets_a_json_413(client, cast, small_uploads, accept):
    client.force_login(cast.ops)
    response = client.post(
        "/api/content/check/",
        {"text": "x" * 5000},
        HTTP_ACCEPT=accept,
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "request_too_large",
        "message": "请求内容过大，超过了上传限制",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_an_oversized_form_caught_by_the_csrf_check_gets_a_json_413(cast, small_uploads, accept):
    """Session callers' CSRF check reads the form first: the same JSON answer."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.ops)
    client.cookies["csrftoken"] = "a" * 32  # a cookie, so the check goes on to read the form
    response = client.post(
        "/api/content/check/",
        data=f"text={'x' * 5000}",
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT=accept,
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


@pytest.mark.django_db
def test_a_form_with_too_many_fields_gets_a_json_413(client, cast, small_uploads):
    client.force_login(cast.ops)
    fields = {f"f{i}": "1" for i in range(50)}
    response = client.post("/api/content/check/", fields, HTTP_ACCEPT="application/json")
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_many_fields" and body["message"]
