"""Property-based API testing with schemathesis: every operation of ``/api/schema/``,
called in-process through the WSGI app as each logged-in role (and a merchant key),
never answers a server error, and every 4xx is JSON with a code and a message.

A bounded number of examples per operation and role (``SCRM_SCHEMATHESIS_EXAMPLES``,
default 10) keeps the whole file well under a minute and a half; the examples are
derandomized, so a failure reproduces.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from . import policy as P

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SCRM_SCHEMATHESIS_EXAMPLES", "10"))
ROLES = (
    P.CUSTOMER_MANAGER,
    P.BRANCH_MANAGER,
    P.OPS_STAFF,
    P.COMPLIANCE,
    P.OPS_ADMIN,
    P.BANK_TOKEN,
    P.MERCHANT_KEY,
)


@schemathesis.check
def error_has_code_and_message(ctx, response, case):
    """Every refusal is the API's error shape: JSON ``{"code", "message", ...}``."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", response.headers.get("Content-Type"))
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    assert content_type and "json" in content_type, (
        f"{response.status_code} is not JSON ({content_type!r}): {response.text[:200]}"
    )
    body = json.loads(response.content)
    assert isinstance(body, dict) and body.get("code") and body.get("message"), (
        f"{response.status_code} without code and message: {body}"
    )
    return None


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, on this test's database connection: the request
    signals must not close the connection that holds the test's transaction (Django's
    test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def role_headers(world, role: str) -> dict[str, str]:
    cast = world.cast
    users = {
        P.CUSTOMER_MANAGER: cast.manager_a,
        P.BRANCH_MANAGER: cast.branch_manager,
        P.OPS_STAFF: cast.ops,
        P.COMPLIANCE: cast.compliance,
        P.OPS_ADMIN: cast.ops_admin,
    }
    if role == P.MERCHANT_KEY:
        return {"Authorization": f"Bearer {world.merchant_raw_key}"}
    if role == P.BANK_TOKEN:
        return {"Authorization": f"Token {world.bank_token}"}
    token, _ = Token.objects.get_or_create(user=users[role])
    return {"Authorization": f"Token {token.key}"}


@pytest.mark.parametrize("role", ROLES)
def test_no_operation_answers_a_server_error_or_an_error_without_a_code(world, wsgi_app, role):
    # The schema itself comes from /api/schema/, as an ops admin reads it.
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", wsgi_app, headers=role_headers(world, P.OPS_ADMIN)
    )
    headers = role_headers(world, role)
    checks = [not_a_server_error, error_has_code_and_message]
    failures: list[str] = []
    operations = 0
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=checks)

        try:
            call()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}")
    assert operations >= 30, operations
    # The calls reached the views: more than one answer per operation, and not all refusals.
    assert sum(statuses.values()) > operations, statuses
    print(f"{role}: {operations} operations, answers by status {sorted(statuses.items())}")
    assert not failures, f"{len(failures)} of {operations} operations failed:\n" + "\n\n".join(
        failures
    )
