"""A customer's personal survey link: a signed token naming the survey and the customer."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from scrm.core.links import LinkInvalid, positive_int, signed_make, signed_read

SURVEY_LINK_SALT = "surveys.answer-link"
DEFAULT_SURVEY_LINK_MAX_AGE_S = 30 * 24 * 3600


@dataclass(frozen=True)
class SurveyLink:
    survey_id: int
    customer_id: int


def survey_token_make(*, survey_id: int, customer_id: int) -> str:
    return signed_make({"s": survey_id, "c": customer_id}, salt=SURVEY_LINK_SALT)


def survey_token_read(token: str) -> SurveyLink:
    """The survey and customer of a survey link; ``LinkInvalid`` for a forged, altered,
    foreign-kind or expired one."""
    max_age = getattr(settings, "SURVEY_LINK_MAX_AGE_S", DEFAULT_SURVEY_LINK_MAX_AGE_S)
    data = signed_read(token, salt=SURVEY_LINK_SALT, max_age=max_age)
    survey_id, customer_id = positive_int(data.get("s")), positive_int(data.get("c"))
    if survey_id is None or customer_id is None:
        raise LinkInvalid(_("链接无效"), reason="bad_payload")
    return SurveyLink(survey_id=survey_id, customer_id=customer_id)


@functools.cache
def _path_template() -> str:
    return reverse("surveys:h5-survey", args=["TOKEN"])


def survey_path(*, survey_id: int, customer_id: int) -> str:
    token = survey_token_make(survey_id=survey_id, customer_id=customer_id)
    return _path_template().replace("TOKEN", token)


def survey_url(*, survey_id: int, customer_id: int) -> str:
    """The customer's personal link to the survey's H5 page (absolute)."""
    path = survey_path(survey_id=survey_id, customer_id=customer_id)
    return settings.SCRM_PUBLIC_URL.rstrip("/") + path
