from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "groups"
    verbose_name = _("客户群")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import GroupPool, Region

        # Cache invalidation only: any write to a region or pool (admin, sync,
        # shell) must reach every process's routing index.
        for model in (Region, GroupPool):
            post_save.connect(_routing_changed, sender=model, dispatch_uid=f"routing-{model}")
            post_delete.connect(_routing_changed, sender=model, dispatch_uid=f"routing-del-{model}")

        # The nightly reconcile's group chats step (scrm.wecom.sync).
        from scrm.wecom.sync import reconcile_step

        from . import reconcile

        reconcile_step(
            "groups",
            50,
            pull=reconcile.groups_pull,
            end=reconcile.groups_end,
            removal_kind=reconcile.GROUPS,
            label="客户群",
        )


def _routing_changed(sender, **kwargs) -> None:
    from .routing import routing_index_invalidate

    routing_index_invalidate()
