from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TaggingConfig(AppConfig):
    name = "tagging"
    verbose_name = _("标签")

    def ready(self) -> None:
        from contacts import hooks

        from . import services

        hooks.customer_wecom_tags.register(services.customer_tags_mirror_from_wecom)
        hooks.customer_channel_attributed.register(services.channel_tags_apply)
        hooks.customer_labels.register(services.customer_tag_labels)

        # The nightly reconcile's steps (scrm.wecom.sync): corp tags before anything
        # reads tag ids, customers' tags after the customers step collected them.
        from scrm.wecom.sync import reconcile_step

        from . import reconcile

        reconcile_step("tags", 10, pull=reconcile.tags_pull)
        reconcile_step("customer_tags", 40, pull=reconcile.customer_tags_pull)
