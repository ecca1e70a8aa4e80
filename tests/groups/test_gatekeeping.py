"""D4: verified-only groups admit verified bank customers; everyone else is sent
to a customer manager to get verified first."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contacts.links import join_token_make, join_token_read
from groups.models import RoutingDecision
from groups.services import routing_decide
from tests.factories import (
    ChannelCodeFactory,
    CustomerFactory,
    FollowRelationFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

CHENGDU = (30.66, 104.07)


@pytest.fixture
def verified_only_chengdu(local_pools):
    pool = local_pools["chengdu"]
    pool.verified_only = True
    pool.save()
    return pool


@pytest.fixture
def manager_with_channel(cast):
    channel = ChannelCodeFactory(name="李娜的渠道码", qr_code="https://qr.example/lina.png")
    channel.staff.add(cast.staff_a)
    return cast.staff_a


def _route(customer=None, token=None):
    if customer is not None:
        token = join_token_make(external_userid=customer.external_userid)
    return routing_decide(lat=CHENGDU[0], lng=CHENGDU[1], token=token)


def test_a_verified_customer_sees_the_verified_only_group_qr(verified_only_chengdu):
    customer = CustomerFactory(verified_at=timezone.now())
    decision = _route(customer)
    assert decision.visitor == RoutingDecision.Visitor.VERIFIED
    assert decision.outcome == RoutingDecision.Outcome.GROUP
    assert decision.pool.id == verified_only_chengdu.id
    assert RoutingDecision.objects.get(id=decision.decision_id).customer == customer


def test_an_unverified_customer_is_shown_their_own_managers_channel_code(
    verified_only_chengdu, manager_with_channel
):
    customer = CustomerFactory(verified_at=None)
    FollowRelationFactory(customer=customer, staff=manager_with_channel)
    decision = _route(customer)
    assert decision.visitor == RoutingDecision.Visitor.UNVERIFIED
    assert decision.outcome == RoutingDecision.Outcome.MANAGER_CODE
    assert decision.manager_code.qr_code == "https://qr.example/lina.png"
    assert decision.manager_code.staff_name == manager_with_channel.name


def test_an_unverified_customer_whose_managers_have_no_channel_gets_a_message(
    verified_only_chengdu,
):
    customer = CustomerFactory(verified_at=None)
    FollowRelationFactory(customer=customer, staff=StaffFactory())
    decision = _route(customer)
    assert decision.outcome == RoutingDecision.Outcome.MESSAGE
    assert decision.manager_code is None
    assert "认证" in decision.message


def test_an_anonymous_visitor_is_sent_to_the_pools_owner(
    verified_only_chengdu, manager_with_channel
):
    verified_only_chengdu.owner = manager_with_channel
    verified_only_chengdu.save()
    decision = _route()
    assert decision.visitor == RoutingDecision.Visitor.ANONYMOUS
    assert decision.outcome == RoutingDecision.Outcome.MANAGER_CODE
    assert decision.manager_code.qr_code == "https://qr.example/lina.png"


def test_an_anonymous_visitor_of_an_unowned_pool_gets_a_message_not_the_group(
    verified_only_chengdu,
):
    decision = _route()
    assert decision.outcome == RoutingDecision.Outcome.MESSAGE
    assert decision.manager_code is None


def test_a_link_for_a_customer_we_do_not_know_counts_as_unknown(verified_only_chengdu):
    decision = _route(token=join_token_make(external_userid="wmNOBODY"))
    assert decision.visitor == RoutingDecision.Visitor.UNKNOWN
    assert decision.outcome == RoutingDecision.Outcome.MESSAGE


def test_a_forged_or_expired_link_is_treated_as_anonymous(verified_only_chengdu, settings):
    customer = CustomerFactory(verified_at=timezone.now())
    token = join_token_make(external_userid=customer.external_userid)
    assert _route(token=token[:-2] + "xx").visitor == RoutingDecision.Visitor.ANONYMOUS
    settings.GROUP_JOIN_TOKEN_MAX_AGE_S = -1
    assert join_token_read(token=token) is None
    assert _route(token=token).outcome != RoutingDecision.Outcome.GROUP


def test_an_open_pool_admits_everyone(local_pools):
    decision = _route()
    assert decision.outcome == RoutingDecision.Outcome.GROUP
    assert decision.pool.id == local_pools["chengdu"].id


def test_the_join_link_carries_the_customer_and_is_signed_for_this_purpose():
    from django.core import signing

    token = join_token_make(external_userid="wmABC")
    assert join_token_read(token=token) == "wmABC"
    other_purpose = signing.TimestampSigner(salt="something.else").sign("wmABC")
    assert join_token_read(token=other_purpose) is None
