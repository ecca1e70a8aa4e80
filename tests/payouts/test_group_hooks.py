"""groups.hooks: joins and leaves recorded by groups.sync reach the apps above, once each."""

from __future__ import annotations

import pytest

from groups import hooks
from groups.sync import group_upsert_from_wecom
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    events: list[tuple] = []

    def joined(**kw):
        events.append(
            (
                "join",
                kw["group"].chat_id,
                kw["customer"].external_userid,
                kw["state"],
                kw["join_scene"],
            )
        )

    def left(**kw):
        events.append(("leave", kw["group"].chat_id, kw["customer"].external_userid))

    hooks.member_joined.register(joined)
    hooks.member_left.register(left)
    yield events
    hooks.member_joined._functions.remove(joined)
    hooks.member_left._functions.remove(left)


def chat(members, version):
    return {
        "chat_id": "wrGROUP1",
        "name": "福田美食群",
        "owner": "lina",
        "member_version": version,
        "member_list": [
            {"userid": "lina", "type": 1, "join_time": 1700000000, "join_scene": 1},
            *[
                {"userid": uid, "type": 2, "join_time": 1700000100, "join_scene": 3}
                for uid in members
            ],
        ],
    }


def test_join_and_leave_are_reported_once_with_the_state(heard):
    a, b = CustomerFactory(external_userid="wmA"), CustomerFactory(external_userid="wmB")
    group_upsert_from_wecom(chat=chat(["wmA", "wmB", "wmUNKNOWN"], "v1"), state="sz-food")
    assert sorted(heard) == [
        ("join", "wrGROUP1", "wmA", "sz-food", 3),
        ("join", "wrGROUP1", "wmB", "sz-food", 3),
    ]
    heard.clear()
    # The same read again (a duplicated callback): nothing changed, nothing reported.
    group_upsert_from_wecom(chat=chat(["wmA", "wmB", "wmUNKNOWN"], "v2"))
    assert heard == []
    group_upsert_from_wecom(chat=chat(["wmA"], "v3"))
    assert heard == [("leave", "wrGROUP1", "wmB")]
    assert a.pk and b.pk
