"""Reads on intent scores: a customer's interests strongest first, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import ExpressionWrapper, F, FloatField, Value
from django.db.models.functions import Extract, Greatest, Least, Now, Power
from django.utils import timezone

from .models import Contribution, Score, decayed


def _value_now():
    age = Extract(Now() - F("as_of"), "epoch") / (Value(86400.0) * F("interest__half_life_days"))
    bounded = Least(Greatest(age, Value(-1000.0)), Value(1000.0))
    return ExpressionWrapper(F("points") * Power(Value(0.5), bounded), output_field=FloatField())


def scores_current(*, customer_id: int):
    """The customer's scores with ``current`` (the decayed value now), strongest first;
    no history is read."""
    return (
        Score.objects.filter(customer_id=customer_id)
        .select_related("interest")
        .annotate(current=_value_now())
        .order_by("-current", "interest__order")
    )


def customer_interests(*, customer_id: int) -> list[Score]:
    """The customer's interests strongest first (the first is the one to act on, D9)."""
    return [s for s in scores_current(customer_id=customer_id) if s.current > 0]


@dataclass
class ContributionLine:
    contribution: Contribution
    value_now: float
    share: float  # how much of the original points is left


def score_explanation(*, score: Score, at: datetime | None = None, limit: int = 20):
    """Each contribution to the score, newest first, with what it is worth now."""
    at = at or timezone.now()
    rows = Contribution.objects.filter(
        customer_id=score.customer_id, interest_id=score.interest_id
    ).order_by("-at")[:limit]
    out = []
    for row in rows:
        now_value = decayed(row.points, row.at, at, score.interest.half_life_days)
        out.append(
            ContributionLine(
                contribution=row,
                value_now=now_value,
                share=(now_value / row.points) if row.points else 0.0,
            )
        )
    return out


__all__ = ["customer_interests", "score_explanation", "scores_current"]
