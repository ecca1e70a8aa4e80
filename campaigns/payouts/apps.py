from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PayoutsConfig(AppConfig):
    name = "campaigns.payouts"
    label = "payouts"
    verbose_name = _("发放台账")
