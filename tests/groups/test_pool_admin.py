"""D3/D5: ops set up a pool in the admin; the pool service saves it and WeCom follows.

The admin only collects the form: ``pool_save`` puts the first groups into the
pool (they take its region) and gives owners their notice tasks, and once the
save has committed ``pool_wecom_push`` creates the join way and the welcome
template, with no transaction open while WeCom answers.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from groups.models import CustomerGroup, GroupPool
from groups.pools import TASK_KIND_NOTICE
from groups.sync import group_sync
from scrm.workspace.models import ManagerTask
from tests.factories import CustomerGroupFactory, RegionFactory, StaffFactory


def _pool_form(**fields) -> dict:
    form = {
        "name": "深圳福利群",
        "region": "",
        "capacity": "200",
        "room_base_name": "深圳福利群",
        "room_base_id": "2",
        "owner": "",
        "dormant_days": "7",
        "dying_loss_pct": "10",
        "is_active": "on",
        "welcome": "",
        "notice": "",
    }
    form.update(fields)
    return form


@pytest.fixture
def ops(client, cast):
    client.force_login(cast.ops)
    return client


@pytest.mark.django_db(transaction=True)
def test_a_new_pool_takes_its_groups_and_gets_its_join_way_after_the_save_committed(
    ops, wecom_sandbox, monkeypatch
):
    from scrm.wecom.adapter import wecom

    calls: list[str] = []
    for name in ("join_way_add", "join_way_get"):
        real = getattr(wecom, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            assert not transaction.get_connection().in_atomic_block, f"{_name} in a transaction"
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(wecom, name, spy)

    wecom_sandbox.seed_staff("lina")
    owner = StaffFactory(userid="lina", name="李娜")
    chats = [
        wecom_sandbox.control("group_create", owner="lina", name=f"深圳福利群{i}", callback=False)
        for i in (1, 2)
    ]
    groups = [group_sync(chat_id=c["chat_id"])[0] for c in chats]
    region = RegionFactory(code="440300", name="深圳市")

    response = ops.post(
        "/admin/groups/grouppool/add/",
        _pool_form(
            region=str(region.pk),
            owner=str(owner.pk),
            initial_groups=[str(g.pk) for g in groups],
            welcome="本周福利：周三 12:00 美食五折",
            notice="群规：请勿发广告。",
        ),
        follow=True,
    )
    assert response.status_code == 200
    pool = GroupPool.objects.get(name="深圳福利群")
    assert {g.pool_id for g in CustomerGroup.objects.filter(pk__in=[g.pk for g in groups])} == {
        pool.pk
    }
    assert set(CustomerGroup.objects.filter(pool=pool).values_list("region", flat=True)) == {
        region.pk
    }
    way = wecom_sandbox.state()["join_ways"][0]
    assert (pool.join_way_config_id, pool.qr_code) == (way["config_id"], way["qr_code"])
    assert way["chat_id_list"] == [c["chat_id"] for c in chats]
    assert calls == ["join_way_add", "join_way_get"]
    assert pool.welcome_text == "本周福利：周三 12:00 美食五折" and pool.welcome_template_id
    assert ManagerTask.objects.filter(kind=TASK_KIND_NOTICE, staff=owner).count() == 2
    assert "已为群主生成2条" in response.content.decode()

    # The region moves: the pool's groups move with it.
    other = RegionFactory(code="440100", name="广州市")
    ops.post(
        f"/admin/groups/grouppool/{pool.pk}/change/",
        _pool_form(region=str(other.pk), owner=str(owner.pk)),
    )
    assert set(CustomerGroup.objects.filter(pool=pool).values_list("region", flat=True)) == {
        other.pk
    }
    assert len(wecom_sandbox.state()["join_ways"]) == 1


@pytest.mark.django_db
def test_more_groups_than_a_join_way_holds_are_refused_on_the_form(ops, wecom_sandbox):
    groups = CustomerGroupFactory.create_batch(6)
    response = ops.post(
        "/admin/groups/grouppool/add/",
        _pool_form(initial_groups=[str(g.pk) for g in groups]),
    )
    assert response.status_code == 200
    assert "一个群活码最多5个群" in response.content.decode()
    assert not GroupPool.objects.exists()
    assert not CustomerGroup.objects.filter(pool__isnull=False).exists()
