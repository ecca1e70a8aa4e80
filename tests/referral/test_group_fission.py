"""Group fission (D3, D8): an inviter's code is a join way of the program's groups with
its own state; a friend joining through it counts, leaving the group stops counting.
The same chain and tiers as a referral by adding the manager."""

from __future__ import annotations

import pytest

from campaigns.referral.models import Invitation, ReferralProgram, ReferralReward
from campaigns.referral.services import successful_invites
from groups.models import CustomerGroup
from tests.factories import GroupPoolFactory
from tests.referral.conftest import _create_time, code_of, referral_campaign, scan
from tests.wecom.events import deliver

pytestmark = pytest.mark.django_db


def _chat_event(chat_id: str, detail: str, **extra) -> None:
    event = deliver(
        {
            "Event": "change_external_chat",
            "ChangeType": "update",
            "UpdateDetail": detail,
            "ChatId": chat_id,
            "CreateTime": _create_time(),
            **extra,
        }
    )
    assert event.status == "done", event.last_error


@pytest.fixture
def fission(corp, cast):
    chat = corp.control("group_create", owner="lina", name="福田福利1群")
    deliver({"Event": "change_external_chat", "ChangeType": "create", "ChatId": chat["chat_id"]})
    pool = GroupPoolFactory(owner=cast.staff_a, name="福田福利群")
    CustomerGroup.objects.filter(chat_id=chat["chat_id"]).update(pool=pool)
    program = referral_campaign(goal=ReferralProgram.Goal.JOINED_GROUP, pool=pool)
    return program, chat["chat_id"]


def test_friends_join_the_group_through_the_inviters_join_way_and_leaving_stops_counting(
    corp, fission
):
    program, chat_id = fission
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    code = code_of(program, root)
    way = {w["config_id"]: w for w in corp.state()["join_ways"]}[code.config_id]
    assert way["state"] == code.state and way["chat_id_list"] == [chat_id]
    assert code.qr_code == way["qr_code"]

    friends = []
    for i in range(3):
        friend, _f, _e = scan(corp, userid="lina", name=f"群友{i}")
        joined = corp.control(
            "join_group", config_id=code.config_id, external_userid=friend.external_userid
        )
        assert joined["chat_id"] == chat_id
        _chat_event(chat_id, "add_member", JoinScene="3", State=code.state)
        friends.append(friend)
    invitations = Invitation.objects.filter(program=program).order_by("pk")
    assert [(i.invitee_id, i.status, i.depth, i.group.chat_id) for i in invitations] == [
        (f.pk, "succeeded", 1, chat_id) for f in friends
    ]
    assert ReferralReward.objects.filter(inviter=root).count() == 2  # tiers 1 and 3

    corp.control("leave_group", chat_id=chat_id, external_userid=friends[2].external_userid)
    _chat_event(chat_id, "del_member", QuitScene="0")
    left = Invitation.objects.get(invitee=friends[2])
    assert (left.status, left.lapse) == ("lapsed", "left_group")
    assert successful_invites(program=program, inviter_id=root.pk) == 2
