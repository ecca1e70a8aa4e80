"""Intent scores per customer and interest, with a half-life decay; levels as tags in the 意向 group."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntentConfig(AppConfig):
    name = "tagging.intent"
    label = "intent"
    verbose_name = _("意向评分")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_interests_after_migrate, sender=self)

        from contacts import hooks as contacts_hooks

        from .insights import customer_section

        contacts_hooks.customer_insights.register(customer_section)


def _interests_after_migrate(sender, app_config=None, using="default", **kwargs) -> None:
    """The default interests exist after every migrate and every flush."""
    from .defaults import interests_seed
    from .models import Interest

    interests_seed(Interest)
