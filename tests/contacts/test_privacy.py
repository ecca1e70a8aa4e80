"""D14 / PIPL: masked lists, permissioned and audited reveal and export, erasure that
keeps anonymous aggregates, marketing opt-out, audit retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.bank import bank_records_import, follow_set_remark_mobiles
from contacts.crypto import mask_phone
from contacts.models import Customer
from contacts.privacy import customer_unsubscribe_token
from scrm.core.audit import audit_record
from scrm.core.models import AuditEvent
from tests.factories import ChannelCodeFactory, CustomerFactory, FollowRelationFactory


@pytest.fixture
def banked(cast):
    bank_records_import(
        rows=[{"customer_no": "C1", "phone": "13812341234", "id_number": "440301199001011234"}]
    )
    channel = ChannelCodeFactory(name="动账通知")
    customer = CustomerFactory(name="张三", first_channel=channel)
    follow = FollowRelationFactory(customer=customer, staff=cast.staff_a, remark="张三 理财")
    follow_set_remark_mobiles(follow=follow, mobiles=["13812341234"])
    customer.refresh_from_db()
    return customer


def test_phones_are_masked_in_lists(cast, banked, client):
    assert mask_phone("13812341234") == "138****1234"
    api = APIClient()
    api.force_authenticate(cast.manager_a)
    assert api.get("/api/customers/").json()["results"][0]["phone"] == "138****1234"
    client.force_login(cast.ops_admin)
    page = client.get(reverse("admin:contacts_customer_changelist")).content.decode()
    assert "138****1234" in page and "13812341234" not in page


def test_reveal_needs_the_permission_and_is_audited(cast, banked):
    api = APIClient()
    api.force_authenticate(cast.manager_a)
    response = api.post(f"/api/customers/{banked.pk}/reveal/")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    api.force_authenticate(cast.ops)  # ops staff: no reveal_pii
    assert api.post(f"/api/customers/{banked.pk}/reveal/").status_code == 403
    api.force_authenticate(cast.ops_admin)
    body = api.post(f"/api/customers/{banked.pk}/reveal/").json()
    assert body["phones"] == ["13812341234"] and body["id_number"] == "440301199001011234"
    event = AuditEvent.objects.get(action="reveal")
    assert event.actor == cast.ops_admin and event.target_id == str(banked.pk)


def test_admin_reveal_is_audited(cast, banked, client):
    client.force_login(cast.ops_admin)
    page = client.post(reverse("admin:contacts_customer_reveal", args=[banked.pk]))
    assert "13812341234" in page.content.decode()
    assert AuditEvent.objects.filter(action="reveal", target_id=str(banked.pk)).exists()


def test_export_is_masked_unless_permitted_and_audited(cast, banked):
    api = APIClient()
    api.force_authenticate(cast.manager_a)
    assert api.get("/api/customers/export/").status_code == 403
    api.force_authenticate(cast.ops)
    masked = api.get("/api/customers/export/?ring=outer").content.decode()
    assert "138****1234" in masked and "13812341234" not in masked
    assert api.get("/api/customers/export/?reveal=1").status_code == 403
    api.force_authenticate(cast.ops_admin)
    plain = api.get("/api/customers/export/?reveal=1").content.decode()
    assert "13812341234" in plain
    exports = AuditEvent.objects.filter(action="export").order_by("at")
    assert [e.details["revealed"] for e in exports] == [False, True]
    assert exports[0].details["filters"] == {"ring": "outer"}


def test_erasure_removes_personal_data_and_keeps_aggregates(cast, banked):
    banked.timeline.create(at=timezone.now(), kind="note", summary="张三 想买基金")
    api = APIClient()
    api.force_authenticate(cast.ops)
    assert api.post(f"/api/customers/{banked.pk}/erase/").status_code == 403
    api.force_authenticate(cast.ops_admin)
    response = api.post(f"/api/customers/{banked.pk}/erase/", {"reason": "客户申请"})
    assert response.status_code == 200
    c = Customer.objects.get(pk=banked.pk)
    assert c.status == Customer.Status.ERASED and c.name == "" and c.bank_record is None
    assert c.first_channel.name == "动账通知" and c.verified_at is not None  # aggregates stay
    follow = c.follows.get()
    assert follow.remark == "" and follow.remark_mobiles == "" and follow.remark_mobile_hashes == []
    assert not c.timeline.exclude(summary="").exists()
    assert AuditEvent.objects.filter(action="erase", target_id=str(c.pk)).count() == 1
    assert Customer.objects.filter(first_channel__name="动账通知").count() == 1


def test_customer_unsubscribes_on_h5_page(cast, banked, client):
    url = reverse("h5-unsubscribe", args=[customer_unsubscribe_token(customer=banked)])
    client.post(url)
    banked.refresh_from_db()
    assert banked.marketing_opt_out
    assert banked.timeline.filter(kind="marketing_opt_out").exists()


def test_manager_records_opt_out_by_api_for_own_customer_only(cast, banked):
    api = APIClient()
    api.force_authenticate(cast.ops)
    response = api.post(f"/api/customers/{banked.pk}/opt-out/", {"opted_out": True})
    assert response.status_code == 200 and response.json()["marketing_opt_out"] is True
    assert AuditEvent.objects.filter(action="change", target_id=str(banked.pk)).exists()


def test_audit_purge_refuses_anything_younger_than_180_days(cast):
    old = audit_record(actor=cast.ops_admin, action="export", target="contacts.customer")
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=200))
    recent = audit_record(actor=cast.ops_admin, action="export", target="contacts.customer")
    with pytest.raises(CommandError):
        call_command("audit_purge", "--older-than-days", "30")
    call_command("audit_purge")
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [recent.pk]
