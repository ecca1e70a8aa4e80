"""Regions ship with the product and are edited by ops; the admin shows how full
pools and groups are (D3)."""

from __future__ import annotations

import csv
from io import StringIO

import pytest
from django.core.management import call_command

from groups.models import Region
from groups.services import REGIONS_CSV
from tests.factories import CustomerGroupFactory, GroupPoolFactory

pytestmark = pytest.mark.django_db


def test_the_shipped_list_covers_every_province_and_prefecture_level_city():
    rows = list(csv.DictReader(REGIONS_CSV.open(encoding="utf-8")))
    provinces = [r for r in rows if r["level"] == "province"]
    cities = [r for r in rows if r["level"] == "city"]
    assert len(provinces) == 31
    # 333 prefecture-level units plus the four municipalities as cities.
    assert len(cities) == 337
    codes = {r["code"] for r in rows}
    assert all(r["parent_code"] in codes for r in cities)
    assert all(15 <= float(r["lat"]) <= 54 and 73 <= float(r["lng"]) <= 135 for r in rows)
    assert {"440300", "510100", "230100", "110100", "460300"} <= codes


def test_load_regions_is_idempotent_and_keeps_admin_edits():
    out = StringIO()
    call_command("load_regions", stdout=out)
    assert "368 created" in out.getvalue()
    shenzhen = Region.objects.get(code="440300")
    assert shenzhen.parent.code == "440000" and shenzhen.level == "city"
    shenzhen.latitude = 22.6
    shenzhen.save()

    out = StringIO()
    call_command("load_regions", stdout=out)
    assert "0 created, 0 updated, 368 unchanged" in out.getvalue()
    assert Region.objects.get(code="440300").latitude == 22.6

    call_command("load_regions", "--update", stdout=StringIO())
    assert Region.objects.get(code="440300").latitude == 22.54
    assert Region.objects.count() == 368


def test_admin_lists_pools_with_group_counts_and_fill(client, cast, regions):
    pool = GroupPoolFactory(name="深圳福利群", region=regions["440300"], capacity=200)
    CustomerGroupFactory(pool=pool, owner=cast.staff_a, member_count=200)
    CustomerGroupFactory(pool=pool, owner=cast.staff_a, member_count=100)
    client.force_login(cast.ops_admin)
    page = client.get("/admin/groups/grouppool/").content.decode()
    assert "深圳福利群" in page and "75%" in page


def test_admin_lists_groups_with_members_over_capacity(client, cast, regions):
    pool = GroupPoolFactory(name="成都福利群", region=regions["510100"], capacity=200)
    CustomerGroupFactory(name="成都福利1群", pool=pool, owner=cast.staff_b, member_count=150)
    client.force_login(cast.ops_admin)
    page = client.get("/admin/groups/customergroup/").content.decode()
    assert "150/200" in page and "75%" in page


def test_admin_lists_regions_with_their_pools(client, cast, regions):
    GroupPoolFactory(name="哈尔滨福利群", region=regions["230100"])
    client.force_login(cast.ops_admin)
    response = client.get("/admin/groups/region/", {"q": "哈尔滨"})
    assert response.status_code == 200
    assert "哈尔滨市" in response.content.decode()
    assert client.get("/admin/groups/routingdecision/").status_code == 200
