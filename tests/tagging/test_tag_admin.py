"""D9: corp tags edited by ops in the admin round-trip to WeCom, and WeCom's changes come back."""

from __future__ import annotations

import pytest

from tagging.models import CustomerTag, Tag, TagGroup
from tests.factories import CustomerFactory, FollowRelationFactory
from tests.wecom.events import deliver

pytestmark = pytest.mark.django_db


def _group_form(name: str, tags: list[dict], *, initial: int = 0) -> dict:
    data = {
        "name": name,
        "order": "0",
        "tags-TOTAL_FORMS": str(len(tags)),
        "tags-INITIAL_FORMS": str(initial),
        "tags-MIN_NUM_FORMS": "0",
        "tags-MAX_NUM_FORMS": "1000",
    }
    for i, tag in enumerate(tags):
        for key, value in tag.items():
            data[f"tags-{i}-{key}"] = value
    return data


def _sandbox_tags(sandbox) -> dict[str, list[str]]:
    return {g["group_name"]: [t["name"] for t in g["tag"]] for g in sandbox.state()["tag_groups"]}


@pytest.fixture
def ops_client(client, cast, wecom_sandbox, django_capture_on_commit_callbacks):
    """Ops in the admin; what the admin runs once its transaction commits runs too."""
    client.force_login(cast.ops)
    post = client.post

    def post_and_commit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    client.post = post_and_commit
    return client


def test_ops_create_edit_and_delete_tags_and_wecom_follows(ops_client, wecom_sandbox):
    response = ops_client.post(
        "/admin/tagging/taggroup/add/",
        _group_form("兴趣", [{"name": "美食", "order": "2"}, {"name": "电影", "order": "1"}]),
    )
    assert response.status_code == 302
    group = TagGroup.objects.get(name="兴趣")
    assert group.wecom_id and all(t.wecom_id for t in group.tags.all())
    assert _sandbox_tags(wecom_sandbox) == {"兴趣": ["美食", "电影"]}

    food, movie = group.tags.get(name="美食"), group.tags.get(name="电影")
    response = ops_client.post(
        f"/admin/tagging/taggroup/{group.pk}/change/",
        _group_form(
            "兴趣爱好",
            [
                {"id": str(food.pk), "group": str(group.pk), "name": "美食优惠", "order": "2"},
                {
                    "id": str(movie.pk),
                    "group": str(group.pk),
                    "name": "电影",
                    "order": "1",
                    "DELETE": "on",
                },
                {"group": str(group.pk), "name": "数码", "order": "0"},
            ],
            initial=2,
        ),
    )
    assert response.status_code == 302
    assert _sandbox_tags(wecom_sandbox) == {"兴趣爱好": ["美食优惠", "数码"]}
    movie.refresh_from_db()
    assert movie.is_deleted and Tag.objects.get(name="数码").wecom_id

    response = ops_client.post(f"/admin/tagging/taggroup/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _sandbox_tags(wecom_sandbox) == {}
    group.refresh_from_db()
    assert group.is_deleted and not group.tags.filter(is_deleted=False).exists()


@pytest.mark.django_db(transaction=True)
def test_wecom_refusing_a_new_group_is_shown_to_ops_in_chinese(client, cast, wecom_sandbox):
    """The push runs once the admin's save committed, still within the request."""
    client.force_login(cast.ops)
    wecom_sandbox.fault("externalcontact/add_corp_tag", errcode=40071, times=1)
    response = client.post(
        "/admin/tagging/taggroup/add/",
        _group_form("理财", [{"name": "基金", "order": "0"}]),
        follow=True,
    )
    text = response.content.decode()
    assert "已在本地保存" in text and "未能同步到企业微信" in text and "40071" in text
    group = TagGroup.objects.get(name="理财")
    assert group.wecom_id is None and group.synced_at is None
    # Saving again once WeCom accepts creates it there.
    tag = group.tags.get()
    response = client.post(
        f"/admin/tagging/taggroup/{group.pk}/change/",
        _group_form(
            "理财",
            [{"id": str(tag.pk), "group": str(group.pk), "name": "基金", "order": "0"}],
            initial=1,
        ),
        follow=True,
    )
    assert "已同步到企业微信" in response.content.decode()
    assert _sandbox_tags(wecom_sandbox) == {"理财": ["基金"]}


def test_a_tag_renamed_in_wecom_shows_up_after_its_callback(ops_client, wecom_sandbox):
    ops_client.post(
        "/admin/tagging/taggroup/add/", _group_form("地区", [{"name": "深圳", "order": "0"}])
    )
    tag = Tag.objects.get(name="深圳")
    with wecom_sandbox.sandbox.lock:
        wecom_sandbox.sandbox.state.tags[tag.wecom_id]["name"] = "深圳南山"
    event = deliver(
        {
            "Event": "change_external_tag",
            "ChangeType": "update",
            "Id": tag.wecom_id,
            "TagType": "tag",
        }
    )
    assert event.status == "done"
    tag.refresh_from_db()
    assert tag.name == "深圳南山"


def test_unsynced_customer_tags_reach_wecom_once_per_relation_and_only_once(
    cast, ops_client, wecom_sandbox
):
    """D9: tags flow back to WeCom so managers see them; pushing twice sends nothing new."""
    from tagging.services import customer_tag_add, customer_tags_push

    wecom_sandbox.seed_staff("lina", "chenjing")
    ops_client.post(
        "/admin/tagging/taggroup/add/",
        _group_form("兴趣", [{"name": "美食", "order": "0"}, {"name": "电影", "order": "0"}]),
    )
    customer = CustomerFactory(external_userid="wmTAGGED01")
    wecom_sandbox.control(
        "customers",
        customers=[
            {
                "external_userid": "wmTAGGED01",
                "name": "刘洋",
                "follow": [{"userid": "lina"}, {"userid": "chenjing"}],
            }
        ],
    )
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    FollowRelationFactory(customer=customer, staff=cast.staff_b)
    for tag in Tag.objects.all():
        customer_tag_add(customer=customer, tag=tag, source=CustomerTag.Source.MANUAL)
    assert customer_tags_push(customer_id=customer.pk) == 2
    marks = wecom_sandbox.state()["tag_marks"]
    assert sorted(m["userid"] for m in marks) == ["chenjing", "lina"]
    assert all(len(m["add_tag"]) == 2 for m in marks)
    assert customer_tags_push(customer_id=customer.pk) == 0
    assert len(wecom_sandbox.state()["tag_marks"]) == 2


def test_a_tag_removed_in_the_admin_is_removed_in_wecom_too(
    cast, ops_client, wecom_sandbox, monkeypatch
):
    from scrm.celery import app
    from tagging.services import customer_tag_add, customer_tags_push

    # The removal task runs in-process (Celery's eager mode) when the delete commits.
    monkeypatch.setitem(app.conf, "task_always_eager", True)

    wecom_sandbox.seed_staff("lina")
    ops_client.post(
        "/admin/tagging/taggroup/add/",
        _group_form("兴趣", [{"name": "美食", "order": "0"}, {"name": "电影", "order": "0"}]),
    )
    customer = CustomerFactory(external_userid="wmUNTAG01")
    wecom_sandbox.control(
        "customers",
        customers=[
            {"external_userid": "wmUNTAG01", "name": "周敏", "follow": [{"userid": "lina"}]}
        ],
    )
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    for tag in Tag.objects.all():
        customer_tag_add(customer=customer, tag=tag, source=CustomerTag.Source.MANUAL)
    customer_tags_push(customer_id=customer.pk)
    food = CustomerTag.objects.get(customer=customer, tag__name="美食")
    response = ops_client.post(f"/admin/tagging/customertag/{food.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert list(customer.tags.values_list("tag__name", flat=True)) == ["电影"]
    last = wecom_sandbox.state()["tag_marks"][-1]
    assert (last["userid"], last["remove_tag"], last["add_tag"]) == (
        "lina",
        [food.tag.wecom_id],
        [],
    )
    assert len(wecom_sandbox.state()["tag_marks"]) == 2  # one push of both, one removal
