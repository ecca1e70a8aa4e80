"""The behaviour admin: ops add the bank's event types (the built-in ones stay as they
are), browse events without a full count of the table, and see each material's opens."""

from __future__ import annotations

import pytest

from tagging.behaviour.intake import api_types
from tagging.behaviour.models import EventType, Material
from tagging.behaviour.services import event_record
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_ops_add_a_bank_event_type_and_the_api_accepts_it_at_once(client, cast):
    client.force_login(cast.ops)
    assert "wealth_viewed" not in api_types()
    response = client.post(
        "/admin/behaviour/eventtype/add/",
        {"code": "wealth_viewed", "name": "浏览理财", "description": "", "accept_from_api": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert EventType.objects.get(code="wealth_viewed").builtin is False
    assert "wealth_viewed" in api_types()


def test_a_builtin_type_cannot_be_changed_or_deleted(client, cast):
    client.force_login(cast.ops)
    builtin = EventType.objects.get(code="material_opened")
    client.post(
        f"/admin/behaviour/eventtype/{builtin.pk}/change/",
        {"code": "x", "name": "改名", "accept_from_api": "on"},
    )
    builtin.refresh_from_db()
    assert (builtin.code, builtin.name, builtin.accept_from_api) == (
        "material_opened",
        "打开素材",
        False,
    )
    response = client.post(f"/admin/behaviour/eventtype/{builtin.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert EventType.objects.filter(pk=builtin.pk).exists()


def test_the_event_list_filters_without_counting_the_table(client, cast):
    customer = CustomerFactory()
    for i in range(3):
        event_record(customer_id=customer.pk, type="group_joined", event_id=f"g{i}")
    event_record(customer_id=customer.pk, type="friend_added", event_id="f1")
    client.force_login(cast.ops)
    page = client.get("/admin/behaviour/event/?type=group_joined&source__exact=action")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 3
    assert page.context["cl"].show_full_result_count is False
    assert client.get("/admin/behaviour/event/?occurred_at__gte=2020-01-01").status_code == 200


def test_the_material_list_shows_open_counts(client, cast):
    Material.objects.create(title="基金周报", url="https://bank.example/f", opens=12, group_opens=3)
    client.force_login(cast.ops)
    html = client.get("/admin/behaviour/material/").content.decode()
    assert "基金周报" in html and ">12<" in html and ">3<" in html
