"""Surveys (questionnaires) answered on a signed H5 page; answers add tags and intent points."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "tagging.surveys"
    label = "surveys"
    verbose_name = _("问卷")
