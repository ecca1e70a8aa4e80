"""The audit trail (D14): every reveal of a masked phone or ID number and every export
lands in it; its rows cannot be edited or deleted from the admin; they are kept at least
six months and a nightly job deletes older ones."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from contacts.bank_jobs import bank_import_job_run, bank_import_job_submit
from contacts.crypto import phone_hash
from contacts.models import BankRecord
from scrm.core.audit import MIN_RETENTION_DAYS, audit_record
from scrm.core.models import AuditEvent
from scrm.core.tasks import audit_purge_expired
from tests.campaigns.factories import CampaignFactory
from tests.lottery.factories import LotteryCampaignFactory
from tests.surveys.conftest import survey_build

from .matrix import endpoints, schema_operations

pytestmark = pytest.mark.django_db

# URL names that reveal or export personal data: every one found is walked below, so a
# new reveal or export endpoint is audited or this test fails.
SENSITIVE = re.compile(r"reveal|export|errors")


@pytest.fixture
def sensitive_world(world):
    record = BankRecord.objects.create(
        customer_no="C13800138000", phone="13800138000", phone_hash=phone_hash("13800138000")
    )
    world.customer_b.bank_record = record
    world.customer_b.save(update_fields=["bank_record"])
    job = bank_import_job_submit(
        actor=world.cast.ops_admin, rows=[{"customer_no": "C1", "phone": "not-a-phone"}]
    )
    bank_import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.error_report, "the import job must leave an error report to download"
    world.extra.update(
        import_job=job,
        campaign=CampaignFactory(),
        lottery=LotteryCampaignFactory(),
        survey=survey_build()["survey"],
    )
    return world


def _sample(world, key: str, param: str) -> str:
    if param == "pk" and "customer" in key:
        return str(world.customer_b.pk)
    if param == "pk" and "import" in key:
        return str(world.extra["import_job"].pk)
    if param == "object_id" and key.startswith("admin:lottery_"):
        return str(world.extra["lottery"].pk)
    if param == "object_id" and key.startswith("admin:campaigns_"):
        return str(world.extra["campaign"].pk)
    if param == "object_id" and key.startswith("admin:surveys_"):
        return str(world.extra["survey"].pk)
    if param == "fmt":
        return "csv"
    raise LookupError(f"no sample for <{param}> of {key}: add one in tests/security/test_audit.py")


def sensitive_urls(world):
    operations = schema_operations()
    for endpoint in endpoints():
        if not SENSITIVE.search(endpoint.key):
            continue
        key = endpoint.key
        path = "/" + re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m, key=key: _sample(world, key, m.group(1)), endpoint.route
        )
        methods = sorted(operations.get(endpoint.route, {"POST"}))  # admin views: POST
        for method in methods:
            yield endpoint.key, method, path


def test_every_reveal_and_export_is_audited(sensitive_world, client):
    world = sensitive_world
    client.force_login(world.cast.ops_admin)
    walked = []
    for key, method, path in sensitive_urls(world):
        before = AuditEvent.objects.count()
        query = {"reveal": "1"} if key == "api-customer-export" else {}
        send = client.get if method == "GET" else client.post
        response = send(path, query)
        assert response.status_code == 200, f"{key} {method} {path}: {response.status_code}"
        new = list(AuditEvent.objects.order_by("-pk")[: AuditEvent.objects.count() - before])
        assert len(new) == 1, f"{key}: {len(new)} audit records"
        assert new[0].action in (AuditEvent.Action.REVEAL, AuditEvent.Action.EXPORT), key
        assert new[0].actor == world.cast.ops_admin and new[0].ip, key
        walked.append(key)
    # The walk found the known ones (and any new one the pattern matches).
    assert {
        "api-customer-reveal",
        "api-customer-export",
        "api-bank-import-job-errors",
        "admin:contacts_customer_reveal",
        "admin:contacts_bankimportjob_errors",
        "admin:campaigns_campaignreviewqueue_export",
        "admin:lottery_lotterycampaign_export",
        "admin:surveys_survey_export",
    } <= set(walked), walked


def test_the_admin_export_action_is_audited(sensitive_world, client):
    world = sensitive_world
    client.force_login(world.cast.ops_admin)
    before = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count()
    response = client.post(
        reverse("admin:contacts_customer_changelist"),
        {"action": "export_csv", "_selected_action": [world.customer_b.pk]},
    )
    assert response.status_code == 200 and "csv" in response["Content-Type"]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == before + 1


def test_a_refused_reveal_changes_nothing_and_shows_nothing(sensitive_world, client):
    """Ops staff may not reveal (ops admins only): refused, and no record of a reveal."""
    client.force_login(sensitive_world.cast.ops)
    before = AuditEvent.objects.count()
    response = client.post(f"/api/customers/{sensitive_world.customer_b.pk}/reveal/")
    assert response.status_code == 403 and response.json()["code"]
    assert "13800138000" not in response.content.decode()
    assert AuditEvent.objects.count() == before


# --------------------------------------------------------------------------- read-only admin


@pytest.fixture
def event(cast):
    return audit_record(actor=cast.ops, action=AuditEvent.Action.EXPORT, target="contacts.customer")


def test_nobody_edits_or_deletes_audit_records_in_the_admin(cast, event, client):
    client.force_login(cast.ops_admin)  # a superuser
    change = reverse("admin:core_auditevent_change", args=[event.pk])
    page = client.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and "deletelink" not in html
    assert client.post(change, {"actor_name": "someone else"}).status_code == 403
    delete = reverse("admin:core_auditevent_delete", args=[event.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    # The changelist offers no bulk delete, and posting it anyway deletes nothing.
    changelist = reverse("admin:core_auditevent_changelist")
    assert "delete_selected" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "delete_selected", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.actor_name == "ops"


def test_ops_staff_do_not_read_the_audit_trail(cast, event, client):
    client.force_login(cast.ops)
    assert client.get(reverse("admin:core_auditevent_changelist")).status_code == 403


# --------------------------------------------------------------------------- retention


def _aged(cast, days: float) -> AuditEvent:
    row = audit_record(actor=cast.ops, action=AuditEvent.Action.EXPORT, target="contacts.customer")
    AuditEvent.objects.filter(pk=row.pk).update(at=timezone.now() - timedelta(days=days))
    return row


def test_the_nightly_purge_deletes_only_what_is_past_retention(cast):
    old, young = _aged(cast, 200), _aged(cast, 170)
    assert audit_purge_expired() == 1
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.filter(pk=young.pk).exists()


@override_settings(AUDIT_RETENTION_DAYS=400)
def test_a_longer_retention_keeps_more(cast):
    kept, gone = _aged(cast, 300), _aged(cast, 401)
    assert audit_purge_expired() == 1
    assert AuditEvent.objects.filter(pk=kept.pk).exists()
    assert not AuditEvent.objects.filter(pk=gone.pk).exists()


@override_settings(AUDIT_RETENTION_DAYS=30)
def test_no_setting_keeps_records_less_than_six_months(cast):
    assert MIN_RETENTION_DAYS >= 183
    five_months = _aged(cast, 150)
    assert audit_purge_expired() == 0
    assert AuditEvent.objects.filter(pk=five_months.pk).exists()


def test_the_purge_is_on_the_beat_schedule():
    from django.conf import settings

    from scrm.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["core-audit-purge"]
    assert entry["task"] == "core.audit_purge" and entry["task"] in app.tasks
    assert settings.AUDIT_RETENTION_DAYS >= 183
