"""The demo's auto-tagging (D9–D12): tag rules and intent scores fed by behaviour the bank's
systems report over the events API, a tracked fund article opened by customers, a live
survey answered by a customer, and dormant bank customers ranked for the managers.

Everything goes through the product's own doors: the events over HTTP with the
bank-systems token, the tracked link opened over HTTP, the worker evaluating the rules, the
level tags and rule tags pushed to the WeCom sandbox with ``mark_tag``. Run again, it adds
only what is missing (events carry stable ids; rules, the survey and the offer are found by
name).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction

ARTICLE_URL = "https://bank.example/articles/fund-dca"
SURVEY_TITLE = "客户兴趣小调查"
FUND_RULE = "手机银行三次浏览基金 → 关注基金"


def _post_events(token: str, events: list[dict]) -> dict:
    request = urllib.request.Request(  # noqa: S310 - our own web server
        settings.SCRM_PUBLIC_URL.rstrip("/") + "/api/events/",
        data=json.dumps({"events": events}, ensure_ascii=False).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def _open(url: str) -> int:
    """A customer taps the link in their chat (the redirect is not followed: the
    material is outside this demo)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:  # the 302 itself
        return exc.code


def _bank_systems_may_send_events() -> str:
    from rest_framework.authtoken.models import Token

    from scrm.demo.seed import bank_systems_grant

    bank_systems_grant("behaviour.send_events", "surveys.make_survey_links")
    return Token.objects.get(user__username="bank-systems").key


def _rules(users: dict, content: dict) -> None:
    """Ops' rules: three fund views in the bank's app in a week tag 关注基金; every fund
    view and every opened fund article adds fund intent; a claimed coupon adds food."""
    from tagging.intent.models import Interest
    from tagging.intent.services import interest_save
    from tagging.models import Tag, TagGroup
    from tagging.rules.models import TagRule
    from tagging.rules.services import tag_rule_save
    from tagging.services import tag_group_push

    funds = Interest.objects.get(code="funds")
    if funds.suggestion_id is None:
        funds.suggestion = content["周一理财早报"]
        interest_save(interest=funds)
    group, _ = TagGroup.objects.get_or_create(name="行为标签")
    tag, _ = Tag.objects.get_or_create(group=group, name="关注基金")
    if not group.wecom_id or group.tags.filter(wecom_id__isnull=True).exists():
        tag_group_push(group_id=group.pk)
    rules = [
        {"name": FUND_RULE, "event_type": "product_viewed", "property_filter": {"category": "基金"},
         "min_count": 3, "window_days": 7, "tag": tag, "stale_days": 30},
        {"name": "浏览基金产品 +25 基金意向", "event_type": "product_viewed",
         "property_filter": {"category": "基金"}, "interest": funds, "points": 25},
        {"name": "打开基金素材 +20 基金意向", "event_type": "material_opened",
         "property_filter": {"category": "funds"}, "interest": funds, "points": 20},
        {"name": "领取优惠券 +15 美食意向", "event_type": "coupon_claimed",
         "interest": Interest.objects.get(code="food"), "points": 15},
    ]  # fmt: skip
    for fields in rules:
        if TagRule.objects.filter(name=fields["name"]).exists():
            continue
        tag_rule_save(rule=TagRule(enabled=True, **fields), user=users["ops"])


def _article(content: dict):
    """The fund article: our own H5 page for an approved library text."""
    from tagging.behaviour.models import Material
    from tagging.behaviour.services import material_for_link, material_save

    material = material_for_link(url=ARTICLE_URL, title="基金定投入门")
    if material.article_id is None:
        material.category = Material.Category.FUNDS
        material.article = content["基金定投入门"]
        material_save(material=material)
    return material


def _survey(users: dict, tags: dict):
    from tagging.surveys.models import Option, Question, Survey
    from tagging.surveys.services import survey_save

    survey = Survey.objects.filter(title=SURVEY_TITLE).first()
    if survey is not None:
        return survey
    with transaction.atomic():
        survey = survey_save(
            survey=Survey(
                title=SURVEY_TITLE,
                intro="耽误您一分钟，我们会据此为您推荐更合适的福利。",
                status=Survey.Status.LIVE,
                repeat=Survey.Repeat.MONTH,
            ),
            actor=users["ops"],
        )
        likes = Question.objects.create(
            survey=survey, order=1, kind="multiple", title="您对哪些福利感兴趣？"
        )
        fund = Option.objects.create(
            question=likes, order=1, label="理财与基金", interest="funds", points=20
        )
        fund.tags.add(tags["理财"])
        food = Option.objects.create(
            question=likes, order=2, label="本地美食", interest="food", points=20
        )
        food.tags.add(tags["美食"])
        Option.objects.create(question=likes, order=3, label="亲子活动").tags.add(tags["亲子"])
        Question.objects.create(
            survey=survey, order=2, kind="rating", title="您对客户经理的服务满意吗？"
        )
    return survey


def tagging_demo(
    *,
    users: dict,
    content: dict,
    tags: dict,
    customers: list,
    now: datetime,
    today: date,
    wait: Callable[[Callable[[], bool], str], bool],
    say,
) -> None:
    from contacts.models import BankRecord, Customer
    from tagging.behaviour.links import tracked_url
    from tagging.behaviour.models import EventBatch, EventType
    from tagging.behaviour.services import event_type_save
    from tagging.leads.models import LeadOffer
    from tagging.leads.services import leads_assign
    from tagging.surveys.links import survey_url
    from tagging.surveys.services import survey_submit

    token = _bank_systems_may_send_events()
    if not EventType.objects.filter(code="benefit_claimed").exists():
        event_type_save(
            event_type=EventType(
                code="benefit_claimed",
                name="领取行内权益",
                description="客户在手机银行领取了权益（属性：benefit）",
            )
        )
    _rules(users, content)
    material = _article(content)
    survey = _survey(users, tags)

    # The bank's app reports what customers did: the first two customers of each manager
    # viewed fund products three times this week (a rule tags them, their fund intent
    # turns high, and their manager gets a follow-up task today).
    by_manager: dict[str, list] = {}
    for demo in customers:
        by_manager.setdefault(demo.userid, []).append(demo)
    events = []
    for _manager, mine in sorted(by_manager.items()):
        for demo in mine[:2]:
            for day in (3, 2, 1):
                events.append(
                    {
                        "event_id": f"demo-view-{demo.external_userid}-{day}",
                        "customer": {"external_userid": demo.external_userid},
                        "type": "product_viewed",
                        "properties": {"category": "基金", "product": "稳健精选混合"},
                        "occurred_at": (now - timedelta(days=day)).isoformat(),
                    }
                )
    # Dormant bank customers (not on WeCom yet) active in the app: leads for the managers.
    for n, record in enumerate(BankRecord.objects.filter(customer_no__startswith="DEMOL")):
        kinds = [("app_login", {})]
        if n % 3 == 0:
            kinds.append(("benefit_claimed", {"benefit": "新客立减金"}))
        elif n % 3 == 1:
            kinds.append(("product_viewed", {"category": "基金", "product": "稳健精选混合"}))
        for kind, properties in kinds:
            events.append(
                {
                    "event_id": f"demo-{kind}-{record.customer_no}",
                    "customer": {"bank_customer_no": record.customer_no},
                    "type": kind,
                    "properties": properties,
                    "occurred_at": (now - timedelta(hours=6 + n)).isoformat(),
                }
            )
    answer = _post_events(token, events)
    say(
        f"the bank's systems reported {len(events)} events (POST /api/events/):"
        f" {answer['accepted']} new, {answer['duplicate']} already known"
    )

    # Two customers open the fund article from their manager's message.
    found = {
        c.external_userid: c
        for c in Customer.objects.filter(external_userid__in=[d.external_userid for d in customers])
    }
    openers = [found[d.external_userid] for d in customers[2:4] if d.external_userid in found]
    for customer in openers:
        _open(tracked_url(material_id=material.pk, customer_id=customer.pk))
    first = found.get(customers[0].external_userid)
    if first is not None:
        say(
            "a demo customer's tracked fund article: "
            + tracked_url(material_id=material.pk, customer_id=first.pk, article=True)
        )
        # One customer answers the survey (as on its H5 page).
        questions = list(survey.questions.order_by("order"))
        options = list(questions[0].options.order_by("order"))
        survey_submit(
            survey_id=survey.pk,
            customer_id=first.pk,
            answers={questions[0].pk: [str(options[0].pk), str(options[1].pk)],
                     questions[1].pk: ["5"]},
        )  # fmt: skip
        say(
            f"a demo customer's survey link: {survey_url(survey_id=survey.pk, customer_id=first.pk)}"
        )

    wait(
        lambda: not EventBatch.objects.filter(processed_at__isnull=True).exists(),
        "the tag rules to evaluate the new events",
    )
    if not LeadOffer.objects.exists():
        LeadOffer.objects.create(text="添加我即可领取 20 元本地美食券")
    report = leads_assign(today=today, now=now)
    say(
        f"lead activation: {report.leads} dormant bank customers ranked,"
        f" {report.tasks} handed to the managers today"
    )
