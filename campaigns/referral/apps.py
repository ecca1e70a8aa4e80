from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralConfig(AppConfig):
    name = "campaigns.referral"
    label = "referral"
    verbose_name = _("老带新")
