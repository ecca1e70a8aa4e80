"""D8: the invite chain and its tiered rewards, driven through the WeCom sandbox.

Customers scan contact ways in the sandbox; the add_external_contact events go through
the app's inbox, and contacts hands the state to referral (``customer_added``)."""

from __future__ import annotations

import pytest

from campaigns.models import Coupon
from campaigns.payouts.models import Payout
from campaigns.referral.models import Invitation, ReferralReward
from campaigns.referral.services import reward_settle, rewards_settle_due, successful_invites
from scrm.wecom.inbox import inbox_event_process
from scrm.wecom.models import InboxEvent
from tests.referral.conftest import (
    after_workdays,
    code_of,
    customer_deletes_manager,
    scan,
    scan_code,
)

pytestmark = pytest.mark.django_db


def test_the_invite_code_is_a_contact_way_of_the_inviters_manager_with_its_own_state(corp, program):
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    code = code_of(program, root)
    assert code.staff.userid == "lina" and code.qr_code
    assert 0 < len(code.state) <= 30 and code.state.startswith("rf")
    way = {w["config_id"]: w for w in corp.state()["contact_ways"]}[code.config_id]
    assert (way["type"], way["scene"], way["state"], way["user"]) == (1, 2, code.state, ["lina"])
    # Opening the link again keeps the one code.
    assert code_of(program, root).pk == code.pk
    assert len(corp.state()["contact_ways"]) == 1


def test_a_three_level_chain_pays_each_tier_once_even_when_callbacks_are_replayed(corp, program):
    """Root → 3 friends (coupon at 1, red packet at 3); friend 1 → 2 friends; one of
    those → 1 friend: depths 1, 2, 3. Every add event processed twice pays nothing more."""
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    level1 = [scan_code(corp, code_of(program, root), f"一级{i}") for i in range(3)]
    level2 = [scan_code(corp, code_of(program, level1[0]), f"二级{i}") for i in range(2)]
    level3 = [scan_code(corp, code_of(program, level2[0]), "三级0")]

    chain = {
        i.invitee_id: (i.inviter_id, i.depth, i.status)
        for i in Invitation.objects.filter(program=program)
    }
    assert chain == {
        **{c.pk: (root.pk, 1, "succeeded") for c in level1},
        **{c.pk: (level1[0].pk, 2, "succeeded") for c in level2},
        level3[0].pk: (level2[0].pk, 3, "succeeded"),
    }
    # The invitee's first touch is the inviter's code (D2).
    level1[0].refresh_from_db()
    assert level1[0].first_state == code_of(program, root).state

    def rewards():
        return sorted(
            (r.inviter_id, r.tier.threshold, r.status)
            for r in ReferralReward.objects.select_related("tier")
        )

    expected = sorted(
        [
            (root.pk, 1, "granted"),
            (root.pk, 3, "waiting"),
            (level1[0].pk, 1, "granted"),
            (level2[0].pk, 1, "granted"),
        ]
    )
    assert rewards() == expected
    coupons = Coupon.objects.filter(campaign=program.campaign)
    assert sorted(coupons.values_list("customer_id", flat=True)) == sorted(
        [root.pk, level1[0].pk, level2[0].pk]
    )

    # WeCom redelivers, the inbox runs every add event again.
    events = InboxEvent.objects.filter(change_type="add_external_contact")
    assert events.count() == 7
    for event in events:
        InboxEvent.objects.filter(pk=event.pk).update(status="pending")
        assert inbox_event_process(event_id=event.pk).status == "done"
    assert Invitation.objects.count() == 6
    assert rewards() == expected and coupons.count() == 3

    # Not yet the day: the red packet waits. On its day it goes to the ledger, once.
    assert rewards_settle_due() == {}
    due = after_workdays(program.reward_delay_workdays)
    assert rewards_settle_due(now=due) == {"granted": 1}
    assert rewards_settle_due(now=due) == {}
    payout = Payout.objects.get()
    reward = ReferralReward.objects.get(inviter=root, tier__threshold=3)
    assert reward.status == "granted" and reward.payout == payout
    assert (payout.customer, payout.amount_fen, payout.reason) == (root, 888, "referral_reward")
    assert payout.source_key == f"referral:tier:{reward.pk}"
    assert reward_settle(reward_id=reward.pk, now=due) is None
    # Scanning once more (the 7th friend of nobody new) still pays nothing twice.
    for event in events:
        InboxEvent.objects.filter(pk=event.pk).update(status="pending")
        inbox_event_process(event_id=event.pk)
    assert Payout.objects.count() == 1 and coupons.count() == 3


def test_a_self_invite_is_refused(corp, program):
    """The inviter removes their manager and adds them again through their own code."""
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    code = code_of(program, root)
    customer_deletes_manager(corp, root)
    again = scan_code(corp, code, "王老客", external_userid=root.external_userid)
    assert again.pk == root.pk
    invitation = Invitation.objects.get(program=program)
    assert (invitation.status, invitation.refusal) == ("refused", "self_invite")
    assert successful_invites(program=program, inviter_id=root.pk) == 0
    assert not ReferralReward.objects.exists() and not Coupon.objects.exists()


def test_an_invite_between_the_same_phone_is_refused(corp, program):
    """A second WeChat account of the inviter (the manager notes the same mobile)."""
    root, _f, _e = scan(corp, userid="lina", name="王老客", remark_mobiles=["13800138000"])
    twin = scan_code(corp, code_of(program, root), "王老客小号", remark_mobiles=["13800138000"])
    invitation = Invitation.objects.get(invitee=twin)
    assert (invitation.status, invitation.refusal) == ("refused", "same_phone")
    other = scan_code(corp, code_of(program, root), "李朋友", remark_mobiles=["13900139000"])
    assert Invitation.objects.get(invitee=other).status == "succeeded"
    assert successful_invites(program=program, inviter_id=root.pk) == 1


def test_an_existing_customer_is_not_a_new_invite(corp, program):
    from datetime import timedelta

    from contacts.models import Customer

    root, _f, _e = scan(corp, userid="lina", name="王老客")
    old, _f, _e = scan(corp, userid="chenjing", name="老朋友")
    Customer.objects.filter(pk=old.pk).update(
        first_added_at=old.first_added_at - timedelta(days=30)
    )
    scan_code(corp, code_of(program, root), "老朋友", external_userid=old.external_userid)
    invitation = Invitation.objects.get(invitee=old)
    assert (invitation.status, invitation.refusal) == ("refused", "existing_customer")


def test_an_invitee_who_deletes_the_manager_stops_counting_and_the_tier_is_cancelled(corp, program):
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    friends = [scan_code(corp, code_of(program, root), f"朋友{i}") for i in range(3)]
    assert successful_invites(program=program, inviter_id=root.pk) == 3
    reward = ReferralReward.objects.get(inviter=root, tier__threshold=3)
    assert reward.status == "waiting"

    customer_deletes_manager(corp, friends[0])
    lapsed = Invitation.objects.get(invitee=friends[0])
    assert (lapsed.status, lapsed.lapse) == ("lapsed", "removed_manager")
    assert successful_invites(program=program, inviter_id=root.pk) == 2
    # Adding the manager again does not make them count again.
    scan(corp, userid="lina", external_userid=friends[0].external_userid)
    assert successful_invites(program=program, inviter_id=root.pk) == 2

    due = after_workdays(program.reward_delay_workdays)
    assert rewards_settle_due(now=due) == {"cancelled": 1}
    reward.refresh_from_db()
    assert reward.status == "cancelled" and "不足 3 人" in reward.note
    assert not Payout.objects.exists()
    # The coupon of tier 1 stays: it was granted when reached.
    assert ReferralReward.objects.get(inviter=root, tier__threshold=1).status == "granted"

    # A new friend brings the count back: the tier is armed again and paid on its day.
    scan_code(corp, code_of(program, root), "新朋友")
    reward.refresh_from_db()
    assert reward.status == "waiting"
    due = after_workdays(program.reward_delay_workdays)
    assert rewards_settle_due(now=due) == {"granted": 1}
    assert Payout.objects.count() == 1


def test_a_friend_gone_without_a_callback_is_caught_on_the_payout_day(corp, program):
    """The deletion callback was lost; the due-day count looks at the relations."""
    from contacts.models import FollowRelation

    root, _f, _e = scan(corp, userid="lina", name="王老客")
    friends = [scan_code(corp, code_of(program, root), f"朋友{i}") for i in range(3)]
    FollowRelation.objects.filter(customer=friends[1]).update(status="removed_by_customer")
    due = after_workdays(program.reward_delay_workdays)
    assert rewards_settle_due(now=due) == {"cancelled": 1}
    assert Invitation.objects.get(invitee=friends[1]).status == "lapsed"
    assert not Payout.objects.exists()


def test_a_referral_coupon_cannot_be_claimed_by_link_without_inviting(program, db):
    """A claim link of a referral campaign (e.g. from an announcement) grants nothing:
    its coupons are earned by invites."""
    from campaigns.services.claims import ClaimRefused, coupon_claim
    from tests.factories import CustomerFactory

    customer = CustomerFactory()
    with pytest.raises(ClaimRefused) as refused:
        coupon_claim(customer_id=customer.pk, campaign_id=program.campaign_id)
    assert refused.value.code == "not_eligible"
    assert not Coupon.objects.exists()


def test_an_add_whose_callback_was_lost_is_attributed_by_the_periodic_job(corp, program):
    """The friend scanned, WeCom's callback never came; the nightly reconcile brought the
    relation (with its state) through contacts; the referral job attributes it."""
    from campaigns.referral.tasks import rewards_settle
    from contacts.services import customer_sync_from_wecom
    from scrm.wecom.adapter import wecom

    root, _f, _e = scan(corp, userid="lina", name="王老客")
    code = code_of(program, root)
    lost = corp.control("scan", config_id=code.config_id, name="失联的朋友")  # no delivery
    customer_sync_from_wecom(result=wecom.customer_get(lost["external_userid"]))
    assert not Invitation.objects.exists()
    assert rewards_settle()["invitations_recorded"] == 1
    invitation = Invitation.objects.get()
    assert (invitation.inviter, invitation.status, invitation.depth) == (root, "succeeded", 1)
    assert rewards_settle()["invitations_recorded"] == 0
    assert ReferralReward.objects.filter(inviter=root, tier__threshold=1).count() == 1


def test_an_inviter_blacklisted_before_the_payout_day_is_not_paid(corp, program, cast):
    from campaigns.services.abuse import blacklist_add

    root, _f, _e = scan(corp, userid="lina", name="王老客")
    for i in range(3):
        scan_code(corp, code_of(program, root), f"朋友{i}")
    blacklist_add(actor=cast.ops, reason="刷单", customer_id=root.pk)
    assert rewards_settle_due(now=after_workdays(program.reward_delay_workdays)) == {"cancelled": 1}
    reward = ReferralReward.objects.get(inviter=root, tier__threshold=3)
    assert reward.note == "邀请人已被列入黑名单" and not Payout.objects.exists()
    # Nor may a blacklisted customer invite any more: their link is refused.
    from campaigns.referral.services import invite_code_ensure
    from scrm.core.errors import DomainError

    with pytest.raises(DomainError) as refused:
        invite_code_ensure(program=program, inviter_id=root.pk)
    assert refused.value.code == "blocked"
