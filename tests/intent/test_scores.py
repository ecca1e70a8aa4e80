"""D9: intent scores halve every half-life, count each contribution once, take
out-of-order contributions for what they are worth now, and move level tags."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tagging.intent.models import Contribution, Interest, Level, Score
from tagging.intent.selectors import customer_interests
from tagging.intent.services import levels_expire, score_add
from tagging.models import CustomerTag
from tests.factories import CustomerFactory, FollowRelationFactory

pytestmark = pytest.mark.django_db


def _add(customer, points, at, key, interest="funds"):
    return score_add(
        customer_id=customer.pk,
        interest=interest,
        points=points,
        at=at,
        source_key=key,
        reason={"kind": "test"},
    )


def test_a_score_halves_after_one_half_life():
    customer = CustomerFactory()
    funds = Interest.objects.get(code="funds")
    t0 = timezone.now() - timedelta(days=60)
    assert _add(customer, 40, t0, "k1") is True
    score = Score.objects.get(customer=customer, interest=funds)
    assert score.value(t0) == pytest.approx(40)
    assert score.value(t0 + timedelta(days=funds.half_life_days)) == pytest.approx(20)
    assert score.value(t0 + timedelta(days=2 * funds.half_life_days)) == pytest.approx(10)


def test_the_same_source_key_counts_once():
    customer = CustomerFactory()
    at = timezone.now()
    assert _add(customer, 25, at, "survey:1:2") is True
    assert _add(customer, 25, at, "survey:1:2") is False
    assert Contribution.objects.filter(customer=customer).count() == 1
    assert Score.objects.get(customer=customer).value(at) == pytest.approx(25)


def test_an_out_of_order_contribution_is_decayed_to_the_score_time():
    customer = CustomerFactory()
    funds = Interest.objects.get(code="funds")
    hl = timedelta(days=funds.half_life_days)
    now = timezone.now()
    _add(customer, 20, now, "late")
    _add(customer, 20, now - hl, "early")  # arrives second, happened one half-life earlier
    score = Score.objects.get(customer=customer)
    assert score.as_of == now
    assert score.value(now) == pytest.approx(30)

    other = CustomerFactory()
    _add(other, 20, now - hl, "early-2")
    _add(other, 20, now, "late-2")
    assert Score.objects.get(customer=other).value(now) == pytest.approx(30)


def test_crossing_high_tags_the_level_and_gives_the_manager_a_task(cast):
    from scrm.workspace.models import ManagerTask

    customer = CustomerFactory()
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    now = timezone.now()
    _add(customer, 15, now, "a")
    assert set(
        CustomerTag.objects.filter(customer=customer).values_list("tag__name", flat=True)
    ) == {"基金-低意向"}
    _add(customer, 50, now, "b")
    tags = CustomerTag.objects.filter(customer=customer)
    assert [(t.tag.name, t.tag.group.name, t.source) for t in tags] == [
        ("基金-高意向", "意向", CustomerTag.Source.RULE)
    ]
    task = ManagerTask.objects.get(kind=ManagerTask.Kind.HIGH_INTENT, customer=customer)
    assert task.staff == cast.staff_a
    assert "基金" in task.title


def test_decay_drops_the_level_through_the_job_reading_only_due_rows():
    customer = CustomerFactory()
    funds = Interest.objects.get(code="funds")
    past = timezone.now() - timedelta(days=funds.half_life_days)
    _add(customer, 100, past, "old")  # 50 now: medium
    score = Score.objects.get(customer=customer)
    assert score.level == Level.MEDIUM
    # Medium ends when 100 decays to 30: log2(100/30) half-lives after ``past``.
    assert score.level_expires_at == pytest.approx(score.level_expiry(), abs=timedelta(seconds=1))
    untouched = CustomerFactory()
    _add(untouched, 300, timezone.now(), "fresh")  # high for weeks
    later = score.level_expires_at + timedelta(minutes=1)
    assert levels_expire(now=later) == 1
    score.refresh_from_db()
    assert score.level == Level.LOW
    names = set(CustomerTag.objects.filter(customer=customer).values_list("tag__name", flat=True))
    assert names == {"基金-低意向"}
    assert levels_expire(now=later) == 0


def test_interests_come_strongest_first():
    customer = CustomerFactory()
    now = timezone.now()
    _add(customer, 20, now, "f", "funds")
    _add(customer, 90, now - timedelta(days=14), "m", "movies")  # two half-lives: 22.5
    _add(customer, 5, now, "d", "digital")
    assert [row.interest.code for row in customer_interests(customer_id=customer.pk)] == [
        "movies",
        "funds",
        "digital",
    ]
