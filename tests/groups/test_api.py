"""The JSON API: routing for the H5 page (public) and the group list (staff, by role)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.links import join_token_make
from groups.models import CustomerGroup, RoutingDecision
from tests.factories import CustomerFactory, CustomerGroupFactory, GroupPoolFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_routing_api_answers_a_point_with_the_local_pool(local_pools):
    body = APIClient().post("/api/routing/", {"lat": 22.54, "lng": 114.05}, format="json").json()
    assert body["pool"]["name"] == "深圳福利群"
    assert body["pool"]["qr_code"] == "https://qr.example/sz.png"
    assert body["fallback"] == "nearest"
    assert body["matched_region"]["code"] == "440300"
    assert RoutingDecision.objects.filter(id=body["decision_id"]).exists()


def test_routing_api_answers_a_picked_city_by_get(local_pools):
    body = APIClient().get("/api/routing/", {"region": "230100"}).json()
    assert body["pool"]["name"] == "哈尔滨福利群"
    assert body["source"] == "picker"


def test_routing_api_hides_a_verified_only_group_from_an_unverified_customer(local_pools):
    pool = local_pools["chengdu"]
    pool.verified_only = True
    pool.save()
    customer = CustomerFactory(verified_at=None)
    t = join_token_make(external_userid=customer.external_userid)
    body = APIClient().get("/api/routing/", {"lat": 30.66, "lng": 104.07, "t": t}).json()
    assert body["outcome"] == "message"
    assert body["pool"]["qr_code"] is None

    customer.verified_at = timezone.now()
    customer.save()
    body = APIClient().get("/api/routing/", {"lat": 30.66, "lng": 104.07, "t": t}).json()
    assert body["outcome"] == "group"
    assert body["pool"]["qr_code"] == "https://qr.example/cd.png"


def test_routing_api_errors_are_json_code_and_message(local_pools):
    missing = APIClient().get("/api/routing/")
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid" and missing.json()["message"]
    unknown = APIClient().get("/api/routing/", {"region": "999999"})
    assert unknown.status_code == 400
    assert unknown.json() == {"code": "region_unknown", "message": "未知地区：999999"}
    english = APIClient().get("/api/routing/", {"region": "999999"}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["message"] == "Unknown region: 999999"
    bad = APIClient().get("/api/routing/", {"lat": 123, "lng": 10})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


@pytest.fixture
def groups_by_owner(cast, regions):
    pool = GroupPoolFactory(name="深圳福利群", region=regions["440300"], capacity=200)
    other = StaffFactory(userid="zhangwei", branch=cast.staff_b.branch)
    return {
        "a_full": CustomerGroupFactory(
            name="深圳福利1群",
            owner=cast.staff_a,
            pool=pool,
            region=regions["440300"],
            member_count=200,
        ),
        "a_open": CustomerGroupFactory(
            name="深圳福利2群",
            owner=cast.staff_a,
            pool=pool,
            region=regions["440300"],
            member_count=50,
        ),
        "branch_mgr": CustomerGroupFactory(
            name="福田网点群", owner=cast.staff_branch_manager, member_count=10
        ),
        "b": CustomerGroupFactory(
            name="成都福利1群", owner=cast.staff_b, region=regions["510100"], member_count=120
        ),
        "other_branch": CustomerGroupFactory(
            name="锦江网点群", owner=other, status=CustomerGroup.Status.DISMISSED
        ),
    }


def _names(user, **params):
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/groups/", params)
    assert response.status_code == 200, response.content
    return {g["name"] for g in response.json()["results"]}


def test_a_customer_manager_sees_only_the_groups_they_own(cast, groups_by_owner):
    assert _names(cast.manager_a) == {"深圳福利1群", "深圳福利2群"}
    assert _names(cast.manager_b) == {"成都福利1群"}


def test_a_branch_manager_sees_their_branchs_groups(cast, groups_by_owner):
    assert _names(cast.branch_manager) == {"深圳福利1群", "深圳福利2群", "福田网点群"}


def test_ops_see_every_group(cast, groups_by_owner):
    assert len(_names(cast.ops)) == 5


def test_group_list_filters_by_region_owner_status_and_fill(cast, groups_by_owner):
    assert _names(cast.ops, region="440000") == {"深圳福利1群", "深圳福利2群"}
    assert _names(cast.ops, region="510100") == {"成都福利1群"}
    assert _names(cast.ops, owner="chenjing") == {"成都福利1群"}
    assert _names(cast.ops, status="dismissed") == {"锦江网点群"}
    assert _names(cast.ops, fill_min=0.9) == {"深圳福利1群"}
    assert _names(cast.ops, fill_max=0.1) == {"福田网点群", "锦江网点群"}


def test_group_list_shows_members_over_capacity(cast, groups_by_owner):
    client = APIClient()
    client.force_authenticate(cast.manager_a)
    rows = client.get("/api/groups/").json()["results"]
    full = next(r for r in rows if r["name"] == "深圳福利1群")
    assert full["capacity"] == 200 and full["fill"] == 1.0
    assert full["region"] == {"code": "440300", "name": "深圳市"}
    assert full["owner"]["userid"] == "lina"


def test_group_list_needs_a_signed_in_user(groups_by_owner):
    response = APIClient().get("/api/groups/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"


def test_group_list_rejects_a_bad_filter_as_json(cast):
    client = APIClient()
    client.force_authenticate(cast.ops)
    response = client.get("/api/groups/", {"status": "nope"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"
