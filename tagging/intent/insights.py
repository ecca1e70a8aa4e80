"""The customer page's intent section: each interest strongest first, its level, and
how every contribution decayed to what it is worth now (D9)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from .selectors import score_explanation, scores_current


def customer_section(*, customer, user, **_kwargs) -> list[dict]:
    now = timezone.now()
    scores = [s for s in scores_current(customer_id=customer.pk) if s.current > 0.01]
    if not scores:
        return []
    rows = []
    for score in scores:
        rows.append(
            {
                "score": score,
                "interest": score.interest,
                "current": score.current,
                "lines": score_explanation(score=score, at=now),
            }
        )
    html = render_to_string("intent/customer_insights.html", {"rows": rows, "now": now})
    return [{"key": "intent", "title": _("意向评分"), "html": html}]
