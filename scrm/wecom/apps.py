from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WecomConfig(AppConfig):
    name = "scrm.wecom"
    label = "wecom"
    verbose_name = _("企业微信")
