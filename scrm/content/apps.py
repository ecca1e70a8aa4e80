from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentConfig(AppConfig):
    """The content library: texts and attachments, their versions, compliance review and
    banned phrases. Low in the app order: contacts, groups, SOP and campaigns all use it."""

    name = "scrm.content"
    label = "content"
    verbose_name = _("内容库")
