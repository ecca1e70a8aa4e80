"""Signed H5 links (join, verify, unsubscribe, claim, wallet, draw, invite): a forged,
tampered (another customer's id under this customer's signature), expired or
other-kind token is refused, on GET and POST alike, and changes nothing.

There are no survey or tracked-link pages yet; when they come, add their link kind to
``KINDS`` (the role matrix already refuses to walk an H5 page it does not know)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.urls import reverse

from campaigns.links import claim_token_make, wallet_token_make
from campaigns.referral.links import invite_token_make
from contacts.bank_verify import customer_verify_link_token
from contacts.links import join_token_make
from contacts.privacy import customer_unsubscribe_token
from tagging.behaviour.links import token_make as article_token_make
from tagging.behaviour.models import Material
from tagging.surveys.links import survey_token_make
from tests.behaviour.conftest import approved_content
from tests.campaigns.factories import CouponTemplateFactory
from tests.factories import CustomerFactory, FollowRelationFactory
from tests.lottery.factories import LotteryCampaignFactory
from tests.referral.conftest import referral_campaign
from tests.surveys.conftest import survey_build

pytestmark = pytest.mark.django_db

EXPIRED_BY_S = 400 * 24 * 3600  # older than every link's validity


@dataclass
class Kind:
    name: str
    url: Callable[[str], str]
    make: Callable[[object, dict], str]  # (customer, campaigns) -> token
    # What the real link answers here: the page (200), or for links whose page depends
    # on more than the link (no prize drawable yet, WeCom's invite QR from a sandbox that
    # is not running, a hop to the invite page) that answer.
    good: tuple[int, ...] = (200,)
    # Links signed alike (a campaign's personal link opens the page of its kind).
    family: str = ""
    # How B's payload is put under A's signature for this kind of token.
    tamper: Callable[[str, str], str] | None = None


def _path(name: str, *, query: str = ""):
    if query:
        return lambda token: f"{reverse(name)}?{query}={token}"
    return lambda token: reverse(name, args=[token])


def tampered_short(token_a: str, token_b: str) -> str:
    """A short material token (``body.signature``): B's body under A's signature."""
    return f"{token_b.rsplit('.', 1)[0]}.{token_a.rsplit('.', 1)[1]}"


KINDS = [
    Kind(
        "join",
        _path("groups:join", query="t"),
        lambda c, k: join_token_make(external_userid=c.external_userid),
    ),
    Kind("verify", _path("h5-verify"), lambda c, k: customer_verify_link_token(customer=c)),
    Kind(
        "unsubscribe", _path("h5-unsubscribe"), lambda c, k: customer_unsubscribe_token(customer=c)
    ),
    Kind(
        "claim",
        _path("campaigns:h5-claim"),
        lambda c, k: claim_token_make(customer_id=c.pk, campaign_id=k["coupon"].pk),
        family="personal",
    ),
    Kind("wallet", _path("campaigns:h5-coupons"), lambda c, k: wallet_token_make(customer_id=c.pk)),
    Kind(
        "draw",
        _path("lottery:h5-draw"),
        lambda c, k: claim_token_make(customer_id=c.pk, campaign_id=k["lottery"].pk),
        good=(200, 403),
        family="personal",
    ),
    Kind(
        "invite",
        _path("referral:h5-invite"),
        lambda c, k: invite_token_make(customer_id=c.pk, campaign_id=k["referral"].pk),
        good=(200, 503),
    ),
    Kind(
        "invite-from-claim",
        _path("referral:h5-invite-from-claim"),
        lambda c, k: claim_token_make(customer_id=c.pk, campaign_id=k["referral"].pk),
        good=(302,),
        family="personal",
    ),
    Kind(
        "survey",
        _path("surveys:h5-survey"),
        lambda c, k: survey_token_make(survey_id=k["survey"].pk, customer_id=c.pk),
    ),
    Kind(
        "article",
        _path("behaviour:h5-article"),
        lambda c, k: article_token_make(material_id=k["article"].pk, customer_id=c.pk),
        family="material",
        tamper=tampered_short,
    ),
]
# The record of a refused claim (abuse monitoring) is what a refusal is meant to write.
REFUSAL_LOGS = {"campaigns.ClaimRefusal"}
APPS = (
    "contacts", "groups", "campaigns", "payouts", "lottery", "referral", "core", "tagging",
    "behaviour", "intent", "tag_rules", "surveys", "leads",
)  # fmt: skip


def _article(cast):
    return Material.objects.create(
        title="基金定投入门",
        url="https://bank.example/articles/dca",
        category=Material.Category.FUNDS,
        article=approved_content(cast, text="基金定投的三个好处。"),
    )


@pytest.fixture
def people(cast):
    alice = CustomerFactory(name="张三", external_userid="wmALICE000001")
    bob = CustomerFactory(name="李四", external_userid="wmBOB00000001")
    for customer in (alice, bob):
        FollowRelationFactory(customer=customer, staff=cast.staff_a)
    campaigns = {
        "coupon": CouponTemplateFactory().campaign,
        "lottery": LotteryCampaignFactory(),
        "referral": referral_campaign().campaign,
        "survey": survey_build()["survey"],
        "article": _article(cast),
    }
    return alice, bob, campaigns


def state() -> dict:
    """Every row count of the customer-facing apps, and every customer's own row."""
    counts = {
        m._meta.label: m._default_manager.count()
        for label in APPS
        for m in apps.get_app_config(label).get_models()
        if m._meta.label not in REFUSAL_LOGS
    }
    customers = list(apps.get_model("contacts", "Customer").objects.order_by("pk").values())
    return {"counts": counts, "customers": customers}


def tampered(token_a: str, token_b: str) -> str:
    """B's payload under A's timestamp and signature."""
    payload_b = token_b.split(":")[0]
    return ":".join([payload_b, *token_a.split(":")[1:]])


def expired(kind: Kind, customer, campaigns, monkeypatch) -> str:
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: real() - EXPIRED_BY_S)
        return kind.make(customer, campaigns)


def refused(client, url: str) -> list[str]:
    problems = []
    for method in ("get", "post"):
        before = state()
        response = getattr(client, method)(url)
        if kind_is_join(url):
            # The join page serves anyone (the location picker); a bad token only means
            # an anonymous visitor: the page must not name the customer.
            if "张三" in response.content.decode() or "李四" in response.content.decode():
                problems.append(f"{method.upper()} {url}: names the customer")
        elif not 400 <= response.status_code < 500:
            problems.append(f"{method.upper()} {url}: {response.status_code}, not refused")
        after = state()
        if after != before:
            changed = sorted(
                k for k in after["counts"] if after["counts"][k] != before["counts"][k]
            )
            problems.append(f"{method.upper()} {url}: something changed {changed or 'customers'}")
    return problems


def kind_is_join(url: str) -> bool:
    return url.startswith(reverse("groups:join"))


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_bad_token_is_refused_and_changes_nothing(client, people, kind, monkeypatch):
    alice, bob, campaigns = people
    good = kind.make(alice, campaigns)
    # The real link works (the refusals below are not a broken page).
    assert client.get(kind.url(good)).status_code in kind.good
    others = [k for k in KINDS if k.name != kind.name and (not k.family or k.family != kind.family)]
    bad = {
        "forged": "eyJjIjoxfQ:1vXyZa:forgedSignature0000000000000000000000000",
        "tampered": (kind.tamper or tampered)(good, kind.make(bob, campaigns)),
        "expired": expired(kind, alice, campaigns, monkeypatch),
        # A real token of another kind (another salt) opens nothing here.
        **{f"other kind ({k.name})": k.make(alice, campaigns) for k in others},
    }
    problems = []
    for label, token in bad.items():
        problems += [f"{label}: {p}" for p in refused(client, kind.url(token))]
    assert not problems, "\n".join(problems)


def test_the_join_page_with_a_good_token_greets_the_customer_only_with_it(client, people):
    """The join link's token is what ties a visit to a customer: routed with a forged one,
    the decision is anonymous."""
    from groups.models import RoutingDecision

    alice, _, _ = people
    forged = tampered(join_token_make(external_userid=alice.external_userid), "x:y")
    client.get(reverse("groups:join"), {"t": forged, "region": "440300"})
    assert not RoutingDecision.objects.filter(customer=alice).exists()
