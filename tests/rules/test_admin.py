"""Ops write tag rules in the admin: each save a version with who and what changed, a
preview that saves nothing, a back-fill that runs in Celery once the rule is on."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tagging.models import CustomerTag, Tag, TagGroup
from tagging.rules.models import TagRule, TagRuleVersion
from tests.factories import CustomerFactory

from .helpers import days_ago, opened, process_pending, record

pytestmark = pytest.mark.django_db


def _form(the_tag, **overrides) -> dict:
    data = {
        "name": "基金素材三次",
        "description": "",
        "event_type": "material_opened",
        "property_filter": '{"category": "基金"}',
        "min_count": "3",
        "window_days": "7",
        "tag": str(the_tag.pk),
        "interest": "",
        "points": "0",
        "stale_days": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def fund_tag():
    return Tag.objects.create(group=TagGroup.objects.create(name="兴趣"), name="基金-高意向")


def test_the_preview_counts_without_saving_and_a_save_is_a_version(
    client, cast, fund_tag, django_capture_on_commit_callbacks
):
    customers = [CustomerFactory() for _ in range(3)]
    for c in customers[:2]:
        record(*(opened(c, at=days_ago(d)) for d in (1, 2, 3)))
    record(opened(customers[2], at=days_ago(1)))
    process_pending()
    client.force_login(cast.ops)

    add = client.get(reverse("admin:tag_rules_tagrule_add"))
    assert add.status_code == 200
    assert reverse("admin:tag_rules_tagrule_preview") in add.content.decode()
    preview = client.post(reverse("admin:tag_rules_tagrule_preview"), _form(fund_tag, enabled="on"))
    assert preview.status_code == 200
    assert "现在会命中 2 位客户（其中 2 位尚无此标签）" in preview.content.decode()
    assert not TagRule.objects.exists()
    bad = client.post(
        reverse("admin:tag_rules_tagrule_preview"), _form(fund_tag, property_filter='["x"]')
    )
    assert "无法预览" in bad.content.decode() and not TagRule.objects.exists()

    with django_capture_on_commit_callbacks(execute=False):
        saved = client.post(reverse("admin:tag_rules_tagrule_add"), _form(fund_tag))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    rule = TagRule.objects.get()
    assert (rule.version, rule.created_by, rule.enabled) == (1, cast.ops, False)

    client.force_login(cast.ops_admin)
    change = reverse("admin:tag_rules_tagrule_change", args=[rule.pk])
    form = _form(fund_tag, enabled="on", min_count="2")
    form.update({"versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1"})
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(change, form)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    rule.refresh_from_db()
    latest = TagRuleVersion.objects.get(rule=rule, number=2)
    assert latest.changed_by == cast.ops_admin
    assert latest.changes == ["enabled", "min_count"]
    page = client.get(change).content.decode()
    assert "修改历史" in page and "min_count" in page
    # Switched on: the back-fill (run here in-process by Celery's eager mode or the
    # step itself) tags everyone with two fund opens in seven days.
    from tagging.rules.services import tag_rule_backfill_step

    while tag_rule_backfill_step(rule_id=rule.pk):
        pass
    assert set(CustomerTag.objects.values_list("customer_id", flat=True)) == {
        customers[0].pk,
        customers[1].pk,
    }


def test_a_rule_without_an_action_is_refused(client, cast, fund_tag):
    client.force_login(cast.ops)
    answer = client.post(reverse("admin:tag_rules_tagrule_add"), _form(fund_tag, tag=""))
    assert answer.status_code == 200
    assert "请至少选择一个动作" in answer.content.decode()
    assert not TagRule.objects.exists()
