"""Logs are JSON lines that carry the request id, which is echoed to the caller."""

import json
import logging

import pytest

from scrm.core.logging import RequestIdFilter


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one(client):
    fresh = client.get("/accounts/login/")
    assert len(fresh["X-Request-Id"]) == 32
    kept = client.get("/accounts/login/", HTTP_X_REQUEST_ID="abc-123")
    assert kept["X-Request-Id"] == "abc-123"
    forged = client.get("/accounts/login/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert forged["X-Request-Id"] != "bad id\nwith newline"


def test_log_lines_are_json_with_the_request_id():
    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    from scrm.core.context import request_id_var

    spec = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(spec["fmt"], rename_fields=spec["rename_fields"])
    record = logging.LogRecord("scrm.test", logging.INFO, __file__, 1, "hello %s", ("bank",), None)
    token = request_id_var.set("rid-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(formatter.format(record))
    assert line["message"] == "hello bank"
    assert line["request_id"] == "rid-42"
    assert line["level"] == "INFO"
