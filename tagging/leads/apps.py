"""Lead activation (D12): dormant bank customers ranked for outreach from their behaviour."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "tagging.leads"
    label = "leads"
    verbose_name = _("存量客户激活")
