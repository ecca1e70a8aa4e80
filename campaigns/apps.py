from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("营销活动")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from .sql import generic_plans

        connection_created.connect(generic_plans, dispatch_uid="campaigns.generic_plans")
