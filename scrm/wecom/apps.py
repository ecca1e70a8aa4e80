from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WecomConfig(AppConfig):
    name = "scrm.wecom"
    label = "wecom"
    verbose_name = _("企业微信")

    def ready(self) -> None:
        from scrm.core.health import CHECKS

        from .sync import check_reconcile

        # /healthz alerts while a reconcile waits for ops to confirm a mass removal.
        CHECKS["reconcile"] = check_reconcile
