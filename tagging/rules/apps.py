"""Declarative tag rules over behaviour events, versioned, evaluated incrementally in Celery workers."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TagRulesConfig(AppConfig):
    name = "tagging.rules"
    label = "tag_rules"
    verbose_name = _("标签规则")

    def ready(self) -> None:
        from contacts import hooks as contacts_hooks
        from tagging.behaviour.hooks import events_recorded

        from .insights import customer_section
        from .services import on_events_recorded

        events_recorded.register(on_events_recorded)
        contacts_hooks.customer_insights.register(customer_section)
