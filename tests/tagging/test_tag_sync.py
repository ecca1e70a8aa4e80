"""Corp tags mirrored from WeCom: callbacks and full reconciliation."""

from __future__ import annotations

import pytest

from scrm.wecom.adapter import wecom
from tagging.models import Tag, TagGroup
from tagging.services import tag_groups_upsert_from_wecom
from tests.wecom.events import deliver

pytestmark = pytest.mark.django_db


def tag_event(change_type, id_, tag_type="tag"):
    return {
        "Event": "change_external_tag",
        "ChangeType": change_type,
        "Id": id_,
        "TagType": tag_type,
    }


def test_a_tag_created_in_wecom_is_mirrored(wecom_sandbox):
    group = wecom.corp_tag_add(group_name="资产等级", tags=[{"name": "私行"}, {"name": "财富"}])
    for tag in group["tag"]:
        deliver(tag_event("create", tag["id"]))
    mirrored = TagGroup.objects.get(wecom_id=group["group_id"])
    assert mirrored.name == "资产等级"
    assert set(mirrored.tags.values_list("name", flat=True)) == {"私行", "财富"}


def test_renames_and_deletions_follow_wecom(wecom_sandbox):
    group = wecom.corp_tag_add(group_name="兴趣", tags=[{"name": "基金"}, {"name": "理财"}])
    tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    fund, wealth = group["tag"]
    wecom.corp_tag_edit(fund["id"], name="公募基金")
    deliver(tag_event("update", fund["id"]))
    assert Tag.objects.get(wecom_id=fund["id"]).name == "公募基金"
    wecom.corp_tag_delete(tag_ids=[wealth["id"]])
    deliver(tag_event("delete", wealth["id"]))
    assert Tag.objects.get(wecom_id=wealth["id"]).is_deleted
    wecom.corp_tag_delete(group_ids=[group["group_id"]])
    deliver(tag_event("delete", group["group_id"], "tag_group"))
    assert TagGroup.objects.get(wecom_id=group["group_id"]).is_deleted
    assert not Tag.objects.filter(group__wecom_id=group["group_id"], is_deleted=False).exists()


def test_a_full_sync_twice_changes_nothing_the_second_time(wecom_sandbox):
    wecom.corp_tag_add(group_name="客群", tags=[{"name": "代发"}, {"name": "养老"}])
    first = tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    second = tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    assert first.tags_created == 2 and first.groups_created == 1
    assert sum(second.as_dict().values()) == 0


def test_a_local_group_of_the_same_name_is_linked_not_duplicated(wecom_sandbox):
    TagGroup.objects.create(name="客群")
    wecom.corp_tag_add(group_name="客群", tags=[{"name": "代发"}])
    tag_groups_upsert_from_wecom(tag_groups=wecom.corp_tags(), full=True)
    assert TagGroup.objects.filter(name="客群").count() == 1
    assert TagGroup.objects.get(name="客群").wecom_id


def test_marking_an_unknown_tag_is_refused_by_wecom(wecom_sandbox):
    from scrm.wecom.errors import WeComPermanentError

    wecom_sandbox.seed_staff("lina")
    r = wecom_sandbox.control("scan", userid="lina", welcome_code=False)
    with pytest.raises(WeComPermanentError) as err:
        wecom.tags_mark(userid="lina", external_userid=r["external_userid"], add=["etNOPE"])
    assert err.value.errcode == 40068
