"""Every URL and API operation, as every role, against the explicit policy (D14).

The matrix walks the URL resolver (every pattern, through every include) and the OpenAPI
schema (every operation, with its methods); see tests/security/policy.py for who may use
what. One test per role, so the suite's workers share the walk."""

from __future__ import annotations

import pytest

from . import policy as P
from .matrix import matrix_run

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", P.ROLES)
def test_every_url_answers_this_role_exactly_as_the_policy_says(world, role):
    findings, summary = matrix_run(world, roles=(role,))
    assert not findings, f"{len(findings)} findings ({summary}):\n" + "\n".join(
        str(f) for f in findings
    )
    # Every class of the policy is walked, and every URL: the walk is not vacuous.
    assert set(summary["classes"]) >= {
        "page",
        "public",
        "metrics",
        "signed_h5",
        "wecom_callback",
        "api",
        "merchant_api",
        "admin",
    }, summary
    assert summary["requests"] >= summary["urls"], summary
