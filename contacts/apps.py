from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("客户")

    def ready(self) -> None:
        from scrm.wecom.sync import reconcile_step

        # The task rules this app owns register with the workspace.
        from . import (
            reconcile,
            task_rules,  # noqa: F401
        )

        # The nightly reconcile's staff and customers steps.
        reconcile_step(
            "staff",
            20,
            pull=reconcile.staff_pull,
            end=reconcile.staff_end,
            removal_kind=reconcile.STAFF,
            label="员工",
        )
        reconcile_step(
            "customers",
            30,
            pull=reconcile.customers_pull,
            end=reconcile.customers_end,
            removal_kind=reconcile.RELATIONS,
            label="客户关系",
        )
