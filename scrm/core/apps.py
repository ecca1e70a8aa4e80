from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "scrm.core"
    label = "core"
    verbose_name = _("系统")

    def ready(self) -> None:
        from .roles import roles_sync_after_migrate

        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="scrm.core.roles_sync")
