"""Declarative tag rules over behaviour events, versioned, evaluated incrementally in Celery workers."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TagRulesConfig(AppConfig):
    name = "tagging.rules"
    label = "tag_rules"
    verbose_name = _("标签规则")
