"""The customer's survey page (``/h5/s/<token>/``), reached by a personal signed link.

CSRF-exempt on purpose, like the other H5 pages: the signed link in the URL is the
credential, not a cookie a third-party page could ride on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from contacts.models import Customer
from scrm.core.errors import DomainError
from scrm.core.links import LinkInvalid

from .links import survey_token_read
from .models import Question, Response, Survey
from .services import SurveyInvalid, period_key, survey_questions, survey_submit

TEMPLATE = "surveys/h5_survey.html"


@dataclass
class _Field:
    question: Question
    name: str
    number: int
    error: str = ""
    values: set[str] = field(default_factory=set)
    options: list = field(default_factory=list)


def _fields(questions, *, errors=None, posted=None) -> list[_Field]:
    errors, posted = errors or {}, posted or {}
    fields = []
    for number, question in enumerate(questions, start=1):
        values = set(posted.get(question.pk, []))
        fields.append(
            _Field(
                question=question,
                name=f"q{question.pk}",
                number=number,
                error=errors.get(question.pk, ""),
                values=values,
                options=[
                    {"pk": o.pk, "label": o.label, "checked": str(o.pk) in values}
                    for o in question.options.all()
                ]
                if question.has_options
                else [{"pk": n, "label": str(n), "checked": str(n) in values} for n in range(1, 6)]
                if question.kind == Question.Kind.RATING
                else [],
            )
        )
    return fields


def _message(request, *, title: str, message: str, code: str, status: int, survey=None):
    return render(
        request,
        TEMPLATE,
        {"survey": survey, "state": code, "title": title, "message": message},
        status=status,
    )


def _posted(request: HttpRequest, questions) -> dict[int, list[str]]:
    return {q.pk: request.POST.getlist(f"q{q.pk}") for q in questions}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def h5_survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = survey_token_read(token)
    except LinkInvalid as exc:
        return _message(
            request, title=_("问卷"), message=exc.message, code="invalid", status=exc.status
        )
    survey = Survey.objects.filter(pk=link.survey_id).first()
    customer = Customer.objects.filter(pk=link.customer_id).first()
    if survey is None or customer is None or customer.status == Customer.Status.ERASED:
        return _message(request, title=_("问卷"), message=_("链接无效"), code="invalid", status=404)
    if survey.status != Survey.Status.LIVE:
        closed = survey.status == Survey.Status.CLOSED
        return _message(
            request,
            survey=survey,
            title=survey.title,
            message=_("本问卷已结束，感谢您的关注") if closed else _("问卷尚未开放"),
            code="closed" if closed else "not_live",
            status=200 if request.method == "GET" else 409,
        )
    questions = survey_questions(survey.pk)
    if request.method == "POST":
        posted = _posted(request, questions)
        try:
            result = survey_submit(survey_id=survey.pk, customer_id=customer.pk, answers=posted)
        except SurveyInvalid as exc:
            context = {
                "survey": survey,
                "state": "form",
                "fields": _fields(questions, errors=exc.errors, posted=posted),
                "form_error": exc.message,
            }
            return render(request, TEMPLATE, context, status=400)
        except DomainError as exc:
            return _message(
                request,
                survey=survey,
                title=survey.title,
                message=exc.message,
                code=exc.code,
                status=exc.status,
            )
        if not result.created:
            return _already(request, survey)
        return redirect(f"{request.path}?ok=1")
    submitted = Response.objects.filter(
        survey=survey, customer=customer, period_key=period_key(survey.repeat, timezone.now())
    ).exists()
    if submitted:
        if request.GET.get("ok"):
            return _message(
                request,
                survey=survey,
                title=survey.title,
                message=survey.thanks_text or _("感谢您的参与！"),
                code="done",
                status=200,
            )
        return _already(request, survey)
    return render(
        request, TEMPLATE, {"survey": survey, "state": "form", "fields": _fields(questions)}
    )


def _already(request, survey):
    message = (
        _("您已提交过本问卷，感谢参与")
        if survey.repeat == Survey.Repeat.ONCE
        else _("您本期已提交过本问卷，下一期再来吧")
    )
    return _message(
        request, survey=survey, title=survey.title, message=message, code="already", status=200
    )
