"""D9: the customer page says why a rule tagged the customer (rule, version, events,
when) and how each interest's score decayed to its current value; only the
customer's own manager sees it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tagging.intent.models import Interest
from tagging.models import Tag, TagGroup
from tests.factories import CustomerFactory, FollowRelationFactory

from .helpers import days_ago, fund_rule, opened, process_pending, record

pytestmark = pytest.mark.django_db


def test_the_customer_page_names_the_rule_the_events_and_the_decay(client, cast):
    funds = Interest.objects.get(code="funds")
    tag = Tag.objects.create(group=TagGroup.objects.create(name="兴趣"), name="基金-高意向")
    rule = fund_rule(cast.ops, tag, interest=funds, points=10)
    customer = CustomerFactory(name="孙悦")
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    new = record(
        opened(customer, at=days_ago(21), title="养老目标基金解读"),
        opened(customer, at=days_ago(20.5), title="指数基金定投"),
        opened(customer, at=days_ago(20), title="债券基金入门"),
    )
    process_pending()

    client.force_login(cast.manager_a)
    page = client.get(reverse("customer-detail", args=[customer.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="insight-rules"' in html and 'id="insight-intent"' in html
    rules_part = html.split('id="insight-rules"')[1].split("</section>")[0]
    assert "基金-高意向" in rules_part
    assert f'「<span class="rule">{rule.name}</span>」<span class="version">v1</span>' in rules_part
    for event_id in new.values():
        assert f'data-event="{event_id}"' in rules_part
    assert "债券基金入门" in rules_part and "打开素材" in rules_part
    intent_part = html.split('id="insight-intent"')[1].split("</section>")[0]
    # 10 points, 20 days ago with a 21-day half-life: about 5.2 now.
    assert "基金" in intent_part and "半衰期 21 天" in intent_part
    assert f"规则「{rule.name}」v1" in intent_part
    assert ">5.2<" in intent_part or "5.2（" in intent_part

    client.force_login(cast.manager_b)
    assert client.get(reverse("customer-detail", args=[customer.pk])).status_code == 404
