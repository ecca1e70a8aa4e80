"""The customer's draw page by personal link (GET shows, POST draws, JSON for scripts) and
the ops API: the report and the replay of a draw (D7, D13)."""

from __future__ import annotations

import json

import pytest

from campaigns.links import claim_token_make
from campaigns.lottery.models import Draw
from tests.factories import CustomerFactory, UserFactory
from tests.lottery.factories import LotteryFactory, PrizeFactory, coupon_prize, thanks

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def campaign():
    campaign = LotteryFactory(draws_per_day=2, draws_per_customer=3).campaign
    PrizeFactory(campaign=campaign, name="8.88元红包", amount_fen=888, weight=1, position=1)
    coupon_prize(campaign, weight=1, position=2)
    thanks(campaign, weight=1, position=3)
    return campaign


def url(customer, campaign) -> str:
    return f"/h5/lottery/{claim_token_make(customer_id=customer.pk, campaign_id=campaign.pk)}/"


def test_the_page_shows_prizes_and_draws_left_then_a_draw_shows_its_result(client, campaign):
    customer = CustomerFactory()
    page = client.get(url(customer, campaign))
    assert page.status_code == 200
    text = page.content.decode()
    assert "周五幸运大抽奖" in text and "8.88元红包" in text and "谢谢参与" in text
    assert "今日还可抽 2 次" in text and "本活动还可抽 3 次" in text
    answer = client.post(url(customer, campaign), {"form_key": "k1"})
    assert answer.status_code == 200
    draw = Draw.objects.get(customer=customer)
    assert f'data-prize="{draw.prize_id}"' in answer.content.decode()
    assert "今日还可抽 1 次" in answer.content.decode()
    # The same form sent again (a double tap, a reload) is the same draw.
    client.post(url(customer, campaign), {"form_key": "k1"})
    assert Draw.objects.filter(customer=customer).count() == 1


def test_json_draws_until_the_daily_limit_then_a_json_refusal(client, campaign):
    customer = CustomerFactory()
    bodies = [client.post(url(customer, campaign), **JSON) for _ in range(3)]
    assert [b.status_code for b in bodies] == [201, 201, 409]
    first = bodies[0].json()
    assert set(first) >= {"draw", "won", "prize", "message", "coupons", "drawn_at"}
    assert bodies[2].json()["code"] == "limit_reached"
    assert bodies[2].json()["message"] == "今日抽奖次数已用完，请明天再来"


def test_a_forged_link_or_a_coupon_campaign_link_is_refused(client, campaign):
    assert client.get("/h5/lottery/forged/").status_code == 403
    assert client.post("/h5/lottery/forged/", **JSON).json()["code"] == "link_invalid"
    from tests.campaigns.factories import CouponTemplateFactory

    coupon_campaign = CouponTemplateFactory().campaign
    answer = client.post(url(CustomerFactory(), coupon_campaign), **JSON)
    assert answer.status_code == 403 and answer.json()["code"] == "link_invalid"
    assert client.get(url(CustomerFactory(), coupon_campaign)).status_code == 403


def test_the_report_and_the_replay_over_the_api(client, cast, campaign):
    customers = [CustomerFactory() for _ in range(4)]
    for c in customers:
        client.post(url(c, campaign), **JSON)
    client.force_login(cast.ops)
    report = client.get(f"/api/lottery/{campaign.pk}/report/").json()
    assert report["participants"] == 4 and report["draws"] == 4
    assert sum(row["draws"] for row in report["prizes"]) == 4
    assert report["committed_fen"] == sum(row["committed_fen"] for row in report["prizes"])
    assert report["cost_per_member_fen"] == report["committed_fen"] // 4
    assert report["budget_fen"] == 1_000_000
    draw = Draw.objects.order_by("pk").first()
    replay = client.get(f"/api/lottery/draws/{draw.pk}/replay/").json()
    assert replay["matches"] is True and replay["prize"] == draw.prize_id
    # Compliance may replay (auditors) but not read the report; managers neither.
    client.force_login(cast.compliance)
    assert client.get(f"/api/lottery/draws/{draw.pk}/replay/").status_code == 200
    assert client.get(f"/api/lottery/{campaign.pk}/report/").status_code == 403
    client.force_login(cast.manager_a)
    assert client.get(f"/api/lottery/draws/{draw.pk}/replay/").status_code == 403
    client.force_login(cast.ops)
    missing = client.get("/api/lottery/draws/999999/replay/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_api_is_in_the_openapi_schema(client):
    client.force_login(UserFactory(username="schema-reader", is_staff=True, is_superuser=True))
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    paths = json.loads(schema.content)["paths"] if schema.status_code == 200 else {}
    assert "/api/lottery/{campaign_id}/report/" in paths
    assert "/api/lottery/draws/{draw_id}/replay/" in paths


def test_the_draw_page_and_its_refusals_speak_english_when_asked(client, campaign):
    customer = CustomerFactory()
    page = client.get(url(customer, campaign), HTTP_ACCEPT_LANGUAGE="en")
    assert "Draw now" in page.content.decode() and "2 draws left today" in page.content.decode()
    for _ in range(2):
        client.post(url(customer, campaign), HTTP_ACCEPT_LANGUAGE="en", **JSON)
    refused = client.post(url(customer, campaign), HTTP_ACCEPT_LANGUAGE="en", **JSON)
    assert refused.json()["message"] == "You have used today's draws. Please come back tomorrow"


def test_a_lotterys_claim_link_as_announcements_carry_it_opens_the_draw_page(client, campaign):
    from urllib.parse import urlsplit

    from campaigns.links import claim_url

    link = claim_url(customer_id=CustomerFactory().pk, campaign_id=campaign.pk)
    answer = client.get(urlsplit(link).path, follow=True)
    assert answer.redirect_chain and answer.redirect_chain[0][0].startswith("/h5/lottery/")
    assert "立即抽奖" in answer.content.decode()
