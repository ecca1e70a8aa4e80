"""Customer behaviour: one table of events (materials opened, our own actions, the
bank's systems), recorded once each, and handed to the rules above in batches."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BehaviourConfig(AppConfig):
    name = "tagging.behaviour"
    label = "behaviour"
    verbose_name = _("客户行为")
