"""The customer page's rule section: for every tag a rule put on the customer, which
rule and version, which events, and when (D9)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from tagging.behaviour.models import Event, EventType
from tagging.models import CustomerTag

from .models import RuleFiring

# Event properties worth showing (never personal data: no names, numbers, phones).
SHOWN_PROPERTIES = ("category", "title", "channel", "option_label", "product", "campaign")


def customer_section(*, customer, user, **_kwargs) -> list[dict]:
    firings = list(
        RuleFiring.objects.filter(customer_id=customer.pk)
        .select_related("rule", "tag__group")
        .order_by("-fired_at")
    )
    carried = set(
        CustomerTag.objects.filter(customer_id=customer.pk).values_list("tag_id", flat=True)
    )
    firings = [f for f in firings if f.tag_id in carried]
    if not firings:
        return []
    event_ids = {i for f in firings for i in f.event_ids}
    events = {
        e.pk: e
        for e in Event.objects.filter(pk__in=event_ids, customer_id=customer.pk).only(
            "id", "type", "occurred_at", "properties"
        )
    }
    names = dict(EventType.objects.values_list("code", "name"))
    rows = []
    for firing in firings:
        lines = []
        for event_id in firing.event_ids:
            event = events.get(event_id)
            if event is None:
                continue
            lines.append(
                {
                    "id": event.pk,
                    "type": names.get(event.type, event.type),
                    "at": event.occurred_at,
                    "properties": [
                        (k, event.properties[k])
                        for k in SHOWN_PROPERTIES
                        if k in (event.properties or {})
                    ],
                }
            )
        rows.append({"firing": firing, "events": sorted(lines, key=lambda e: e["at"])})
    html = render_to_string("tag_rules/customer_insights.html", {"rows": rows})
    return [{"key": "rules", "title": _("自动标签来源"), "html": html}]
