"""Intent scores per customer and interest, with a half-life decay; levels as tags in the 意向 group."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntentConfig(AppConfig):
    name = "tagging.intent"
    label = "intent"
    verbose_name = _("意向评分")

    def ready(self) -> None:
        from contacts import hooks as contacts_hooks

        from .insights import customer_section

        contacts_hooks.customer_insights.register(customer_section)
