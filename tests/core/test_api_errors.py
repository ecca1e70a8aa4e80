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
