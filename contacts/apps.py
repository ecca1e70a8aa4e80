from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("客户")

    def ready(self) -> None:
        # The task rules this app owns register with the workspace.
        from . import task_rules  # noqa: F401
