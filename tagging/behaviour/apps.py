"""Customer behaviour: one table of events (materials opened, our own actions, the
bank's systems), recorded once each, and handed to the rules above in batches."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BehaviourConfig(AppConfig):
    name = "tagging.behaviour"
    label = "behaviour"
    verbose_name = _("客户行为")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_event_types_after_migrate, sender=self)

        from contacts import hooks as contacts_hooks
        from groups import hooks as groups_hooks
        from scrm.content import hooks as content_hooks

        from . import actions, services

        content_hooks.link_tracked.register(services.link_rewrite)
        groups_hooks.member_joined.register(actions.on_member_joined)
        groups_hooks.member_left.register(actions.on_member_left)
        contacts_hooks.customer_added.register(actions.on_customer_added)


def _event_types_after_migrate(sender, app_config=None, using="default", **kwargs) -> None:
    """The built-in event types exist after every migrate and every flush (which empties
    the table the data migration filled)."""
    from .models import EventType
    from .types import event_types_seed

    event_types_seed(EventType.objects.db_manager(using).model)
