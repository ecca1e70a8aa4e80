"""D9: ops' tag edits are checked before they are saved, and pushed to WeCom with no
database lock held while WeCom answers; an edit made during a slow push is not lost."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from scrm.core.errors import DomainError
from tagging.models import Tag, TagGroup
from tagging.services import TagDraft, tag_group_push, tag_group_save
from tests.tagging.test_tag_admin import _group_form, _sandbox_tags

TAG_CALLS = ("corp_tags", "corp_tag_add", "corp_tag_edit", "corp_tag_delete")


@pytest.fixture
def no_transaction_during_calls(wecom_calls_outside_transactions):
    return wecom_calls_outside_transactions(*TAG_CALLS)


def _new_group(name: str, *tags: str) -> TagGroup:
    group = tag_group_save(group=TagGroup(name=name), tags=[TagDraft(name=t) for t in tags])
    return tag_group_push(group_id=group.pk)


@pytest.mark.django_db(transaction=True)
def test_the_admin_pushes_tags_with_no_transaction_open(
    client, cast, wecom_sandbox, no_transaction_during_calls
):
    client.force_login(cast.ops)
    client.post(
        "/admin/tagging/taggroup/add/", _group_form("兴趣", [{"name": "美食", "order": "0"}])
    )
    group = TagGroup.objects.get(name="兴趣")
    food = group.tags.get()
    client.post(
        f"/admin/tagging/taggroup/{group.pk}/change/",
        _group_form(
            "兴趣爱好",
            [
                {
                    "id": str(food.pk),
                    "group": str(group.pk),
                    "name": "美食",
                    "order": "0",
                    "DELETE": "on",
                },
                {"group": str(group.pk), "name": "电影", "order": "1"},
            ],
            initial=1,
        ),
    )
    assert _sandbox_tags(wecom_sandbox) == {"兴趣爱好": ["电影"]}
    client.post(f"/admin/tagging/taggroup/{group.pk}/delete/", {"post": "yes"})
    assert _sandbox_tags(wecom_sandbox) == {}
    assert set(no_transaction_during_calls) == set(TAG_CALLS)


@pytest.mark.django_db(transaction=True)
def test_an_edit_made_during_a_slow_push_is_neither_blocked_nor_lost(wecom_sandbox):
    group = _new_group("客户阶段", "潜在客户")
    TagGroup.objects.filter(pk=group.pk).update(name="客户阶段（旧）")
    wecom_sandbox.fault("externalcontact/edit_corp_tag", latency_ms=1500)
    errors: list[BaseException] = []

    def slow_push() -> None:
        try:
            tag_group_push(group_id=group.pk)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    slow = threading.Thread(target=slow_push, daemon=True)
    slow.start()
    deadline = time.monotonic() + 10
    while wecom_sandbox.sandbox.state.faults.get("externalcontact/edit_corp_tag"):
        assert time.monotonic() < deadline, "the slow edit never reached WeCom"
        time.sleep(0.01)

    started = time.monotonic()
    tag = group.tags.get()
    with transaction.atomic():
        edited = TagGroup.objects.get(pk=group.pk)
        edited.name = "客户分层"
        tag_group_save(group=edited, tags=[TagDraft(name="高净值", tag_id=tag.pk)])
    tag_group_push(group_id=group.pk)
    assert time.monotonic() - started < 1.0 and slow.is_alive()

    slow.join(timeout=15)
    assert errors == []
    group.refresh_from_db()
    tag.refresh_from_db()
    assert (group.name, tag.name) == ("客户分层", "高净值")
    assert group.synced_at is not None and tag.synced_at is not None
    assert _sandbox_tags(wecom_sandbox) == {"客户分层": ["高净值"]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            [{"name": "基金", "order": "0"}, {"name": "基金", "order": "1"}],
            "重复的数据",
        ),
        ([], "企业微信不允许空标签组"),
    ],
)
def test_a_group_wecom_would_refuse_is_refused_on_the_form_and_not_saved(
    client, cast, wecom_sandbox, tags, message
):
    client.force_login(cast.ops)
    response = client.post("/admin/tagging/taggroup/add/", _group_form("理财", tags))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TagGroup.objects.filter(name="理财").exists()
    assert _sandbox_tags(wecom_sandbox) == {}


@pytest.mark.django_db
def test_deleting_every_tag_of_a_group_is_refused_before_anything_changes(
    client, cast, wecom_sandbox
):
    group = _new_group("地区", "深圳")
    tag = group.tags.get()
    client.force_login(cast.ops)
    response = client.post(
        f"/admin/tagging/taggroup/{group.pk}/change/",
        _group_form(
            "地区",
            [
                {
                    "id": str(tag.pk),
                    "group": str(group.pk),
                    "name": "深圳",
                    "order": "0",
                    "DELETE": "on",
                }
            ],
            initial=1,
        ),
    )
    assert response.status_code == 200
    assert "请至少保留一个标签" in response.content.decode()
    tag.refresh_from_db()
    assert not tag.is_deleted and _sandbox_tags(wecom_sandbox) == {"地区": ["深圳"]}


@pytest.mark.django_db
def test_a_push_wecom_refuses_keeps_what_it_made_and_retries_the_rest(wecom_sandbox):
    group = _new_group("产品", "基金")
    fund = group.tags.get()
    group = tag_group_save(
        group=group,
        tags=[TagDraft(name="基金定投", tag_id=fund.pk), TagDraft(name="存款")],
    )
    wecom_sandbox.fault("externalcontact/edit_corp_tag", errcode=40058)
    with pytest.raises(DomainError, match="未能同步到企业微信"):
        tag_group_push(group_id=group.pk)
    deposit = Tag.objects.get(name="存款")
    fund.refresh_from_db()
    # The new tag was made in WeCom (its id is kept); the rename waits, visibly unsynced.
    assert deposit.wecom_id and fund.synced_at is None
    assert _sandbox_tags(wecom_sandbox) == {"产品": ["基金", "存款"]}

    tag_group_push(group_id=group.pk)
    fund.refresh_from_db()
    assert fund.synced_at is not None
    assert _sandbox_tags(wecom_sandbox) == {"产品": ["基金定投", "存款"]}
    assert Tag.objects.filter(name="存款").count() == 1
