"""D9: declarative tag rules over behaviour events, evaluated per batch, idempotent,
versioned, previewed, back-filled, and taken off again when stale."""

from __future__ import annotations

import pytest

from tagging.behaviour.models import EventBatch
from tagging.behaviour.services import batch_process
from tagging.intent.models import Contribution, Interest, Score
from tagging.models import CustomerTag, Tag, TagGroup
from tagging.rules.models import RuleFiring, TagRule, TagRuleVersion
from tagging.rules.services import (
    rules_evaluate,
    tag_rule_backfill_step,
    tag_rule_preview,
    tag_rule_save,
    tags_stale_remove,
)
from tests.factories import CustomerFactory

from .helpers import days_ago, fund_rule, opened, process_pending, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def fund_tag():
    group = TagGroup.objects.create(name="兴趣")
    return Tag.objects.create(group=group, name="基金-高意向")


def _tags(customer) -> set[str]:
    return set(CustomerTag.objects.filter(customer=customer).values_list("tag__name", flat=True))


def test_the_third_fund_open_in_seven_days_tags_and_not_before(
    cast, fund_tag, django_capture_on_commit_callbacks
):
    rule = fund_rule(cast.ops, fund_tag)
    customer = CustomerFactory()
    record(opened(customer, at=days_ago(5)))
    record(opened(customer, category="保险", at=days_ago(4)))  # other category: no count
    process_pending()
    record(opened(customer, at=days_ago(3)))
    process_pending()
    assert _tags(customer) == set()
    third = record(opened(customer, at=days_ago(1)))
    process_pending()
    assert _tags(customer) == {"基金-高意向"}
    row = CustomerTag.objects.get(customer=customer)
    assert row.source == CustomerTag.Source.RULE
    firing = RuleFiring.objects.get(customer=customer)
    assert firing.rule == rule and firing.version == 1
    assert firing.event_ids[0] == next(iter(third.values()))
    assert len(firing.event_ids) == 3


def test_opens_spread_over_more_than_the_window_do_not_tag(cast, fund_tag):
    fund_rule(cast.ops, fund_tag)
    customer = CustomerFactory()
    record(opened(customer, at=days_ago(20)), opened(customer, at=days_ago(10)))
    record(opened(customer, at=days_ago(1)))
    process_pending()
    assert _tags(customer) == set()


def test_a_batch_processed_twice_changes_nothing(cast, fund_tag):
    funds = Interest.objects.get(code="funds")
    fund_rule(cast.ops, fund_tag, min_count=1, interest=funds, points=12)
    customer = CustomerFactory()
    sent = [opened(customer, at=days_ago(i)) for i in (3, 2, 1)]
    new = record(*sent)
    batch = EventBatch.objects.get()
    assert batch_process(batch_id=batch.pk)
    score = Score.objects.get(customer=customer)
    before = (score.points, score.as_of, Contribution.objects.count(), RuleFiring.objects.count())
    # A redelivered task finds the batch done; the hook itself run again adds nothing.
    assert batch_process(batch_id=batch.pk) is False
    rules_evaluate(event_ids=list(new.values()))
    score.refresh_from_db()
    after = (score.points, score.as_of, Contribution.objects.count(), RuleFiring.objects.count())
    assert after == before
    assert Contribution.objects.count() == 3
    # The same events sent again are not recorded again, so no batch is made.
    assert record(*sent) == {}
    assert EventBatch.objects.count() == 1


def test_a_survey_answer_rule_tags_the_customer(cast):
    group = TagGroup.objects.create(name="问卷")
    tag = Tag.objects.create(group=group, name="偏好电影")
    tag_rule_save(
        rule=TagRule(
            name="问卷选电影",
            enabled=True,
            event_type="survey_answered",
            property_filter={"survey": 3, "option": 11},
            min_count=1,
            window_days=365,
            tag=tag,
        ),
        user=cast.ops,
    )
    from django.utils import timezone

    from tagging.behaviour.services import EventIn

    customer, other = CustomerFactory(), CustomerFactory()
    record(
        EventIn(
            "resp-1:11",
            customer.pk,
            "survey_answered",
            timezone.now(),
            {"survey": 3, "question": 5, "option": 11, "option_label": "电影"},
        ),
        EventIn(
            "resp-2:12",
            other.pk,
            "survey_answered",
            timezone.now(),
            {"survey": 3, "question": 5, "option": 12, "option_label": "美食"},
        ),
        source="survey",
    )
    process_pending()
    assert _tags(customer) == {"偏好电影"}
    assert _tags(other) == set()


def test_every_save_is_a_version_with_who_and_what(cast, fund_tag):
    rule = fund_rule(cast.ops, fund_tag)
    rule.min_count = 4
    tag_rule_save(rule=rule, user=cast.ops_admin)
    tag_rule_save(rule=rule, user=cast.ops_admin)  # nothing changed: no version
    versions = list(TagRuleVersion.objects.filter(rule=rule).order_by("number"))
    assert [(v.number, v.changed_by) for v in versions] == [(1, cast.ops), (2, cast.ops_admin)]
    assert versions[1].changes == ["min_count"]
    assert versions[1].snapshot["min_count"] == 4
    rule.refresh_from_db()
    assert (rule.version, rule.created_by, rule.updated_by) == (2, cast.ops, cast.ops_admin)


def test_the_preview_counts_who_would_be_tagged_now(cast, fund_tag):
    customers = [CustomerFactory() for _ in range(4)]
    for c in customers[:3]:
        record(*(opened(c, at=days_ago(d)) for d in (1, 2, 3)))
    record(opened(customers[3], at=days_ago(1)), opened(customers[3], at=days_ago(9)))
    CustomerTag.objects.create(customer=customers[0], tag=fund_tag, source="manual")
    unsaved = TagRule(
        name="预览",
        event_type="material_opened",
        property_filter={"category": "基金"},
        min_count=3,
        window_days=7,
        tag=fund_tag,
    )
    preview = tag_rule_preview(rule=unsaved)
    assert (preview.customers, preview.new) == (3, 2)
    assert TagRule.objects.count() == 0


def test_switching_a_rule_on_back_fills_history_in_chunks(
    cast, fund_tag, django_capture_on_commit_callbacks
):
    customers = [CustomerFactory() for _ in range(5)]
    for c in customers[:4]:
        record(*(opened(c, at=days_ago(d)) for d in (30, 29, 28)))
    record(opened(customers[4], at=days_ago(2)))
    process_pending()  # no rule yet: nothing tagged
    with django_capture_on_commit_callbacks() as callbacks:
        rule = fund_rule(cast.ops, fund_tag)
    assert callbacks, "the back-fill is queued once the save commits"
    rule.refresh_from_db()
    assert rule.backfill_cursor == 0
    steps = 0
    while tag_rule_backfill_step(rule_id=rule.pk, chunk=5):
        steps += 1
    assert steps >= 2
    rule.refresh_from_db()
    assert rule.backfill_cursor is None and rule.backfill_done_at is not None
    assert {c.pk for c in customers if _tags(c)} == {c.pk for c in customers[:4]}


def test_a_stale_rule_tag_is_taken_off_here_and_in_wecom(
    cast, fund_tag, django_capture_on_commit_callbacks
):
    fund_rule(cast.ops, fund_tag, min_count=1, stale_days=10)
    old, recent = CustomerFactory(), CustomerFactory()
    record(opened(old, at=days_ago(9)), opened(recent, at=days_ago(9)))
    process_pending()
    assert _tags(old) == _tags(recent) == {"基金-高意向"}
    record(opened(recent, at=days_ago(2)))
    process_pending()
    from datetime import timedelta

    from django.utils import timezone

    with django_capture_on_commit_callbacks():
        assert tags_stale_remove(now=timezone.now() + timedelta(days=3)) == 1
    assert _tags(old) == set()
    assert _tags(recent) == {"基金-高意向"}
    assert not RuleFiring.objects.filter(customer=old).exists()
