from tests.payments.sandbox_fixtures import _payment_sandbox_server, payment_sandbox  # noqa: F401
