"""Writes on surveys: a customer's submission (with its tags, intent points and
behaviour events, in one transaction) and the audited export of the answers."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.crypto import mask_name
from contacts.models import Customer
from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent
from scrm.core.workdays import SHANGHAI
from tagging.behaviour.models import Event
from tagging.behaviour.services import EventIn, events_record
from tagging.behaviour.types import SURVEY_ANSWERED
from tagging.intent.models import Interest
from tagging.intent.services import score_add
from tagging.models import CustomerTag
from tagging.services import customer_tag_add

from .links import survey_url
from .masking import REVEAL_PERMISSION, mask_text
from .models import Answer, Option, Question, Response, Survey

log = logging.getLogger(__name__)

EXPORT_PERMISSION = "surveys.export_responses"
TEXT_MAX = 500


def period_key(repeat: str, at: datetime) -> str:
    """The period a submission at ``at`` falls in (Asia/Shanghai calendar)."""
    day = at.astimezone(SHANGHAI).date()
    if repeat == Survey.Repeat.WEEK:
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}"
    if repeat == Survey.Repeat.MONTH:
        return f"{day:%Y-%m}"
    if repeat == Survey.Repeat.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if repeat == Survey.Repeat.YEAR:
        return f"{day.year}"
    return ""


class SurveyInvalid(DomainError):
    """Some answers do not pass; ``errors`` maps a question id to its message."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(
            "survey_invalid",
            _("请检查标红的题目"),
            status=400,
            data={"errors": {str(k): v for k, v in errors.items()}},
        )
        self.errors = errors


def survey_open_check(survey: Survey) -> None:
    if survey.status == Survey.Status.CLOSED:
        raise DomainError("survey_closed", _("本问卷已结束，感谢您的关注"), status=409)
    if survey.status != Survey.Status.LIVE:
        raise DomainError("survey_not_live", _("问卷尚未开放"), status=409)


@dataclass
class _Parsed:
    answers: list[Answer] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)


def _parse(questions: list[Question], raw: dict[int, list[str]]) -> _Parsed:
    """The answers as rows to insert; ``SurveyInvalid`` with every question's error."""
    errors: dict[int, str] = {}
    parsed = _Parsed()
    for question in questions:
        values = [str(v).strip() for v in raw.get(question.pk, []) if str(v).strip()]
        if not values:
            if question.required:
                errors[question.pk] = _("此题为必答题")
            continue
        if question.has_options:
            by_id = {str(o.pk): o for o in question.options.all()}
            chosen = []
            for value in dict.fromkeys(values):
                option = by_id.get(value)
                if option is None:
                    errors[question.pk] = _("选项无效，请重新选择")
                    break
                chosen.append(option)
            else:
                if question.kind == Question.Kind.SINGLE and len(chosen) > 1:
                    errors[question.pk] = _("此题只能选择一项")
                    continue
                for option in chosen:
                    parsed.answers.append(Answer(question=question, option=option))
                    parsed.options.append(option)
        elif question.kind == Question.Kind.RATING:
            if len(values) != 1 or values[0] not in {"1", "2", "3", "4", "5"}:
                errors[question.pk] = _("请选择 1-5 分")
                continue
            parsed.answers.append(Answer(question=question, rating=int(values[0])))
        else:
            text = values[0]
            if len(text) > TEXT_MAX:
                errors[question.pk] = _("最多填写 %(n)d 字") % {"n": TEXT_MAX}
                continue
            parsed.answers.append(Answer(question=question, text=text))
    if errors:
        raise SurveyInvalid(errors)
    return parsed


def survey_questions(survey_id: int) -> list[Question]:
    return list(
        Question.objects.filter(survey_id=survey_id)
        .prefetch_related("options__tags")
        .order_by("order", "id")
    )


@dataclass(frozen=True)
class SubmitResult:
    response: Response
    created: bool
    tags_added: int = 0
    events: int = 0


def survey_submit(
    *,
    survey_id: int,
    customer_id: int,
    answers: dict[int, list[str]],
    now: datetime | None = None,
) -> SubmitResult:
    """Record a customer's answers once per period: the response and its answers, each
    chosen option's tags (pushed to WeCom after commit) and intent points, and one
    ``survey_answered`` event per chosen option, all in one transaction. A second
    submit in the same period records nothing and returns ``created=False``."""
    now = now or timezone.now()
    survey = Survey.objects.filter(pk=survey_id).first()
    customer = Customer.objects.filter(pk=customer_id).first()
    if survey is None or customer is None or customer.status == Customer.Status.ERASED:
        raise DomainError("link_invalid", _("链接无效"), status=404)
    survey_open_check(survey)
    key = period_key(survey.repeat, now)
    existing = Response.objects.filter(survey=survey, customer=customer, period_key=key).first()
    if existing is not None:
        return SubmitResult(response=existing, created=False)
    parsed = _parse(survey_questions(survey.pk), answers)
    with transaction.atomic():
        try:
            with transaction.atomic():
                response = Response.objects.create(
                    survey=survey, customer=customer, period_key=key, submitted_at=now
                )
        except IntegrityError:  # a concurrent submit of the same period got there first
            response = Response.objects.get(survey=survey, customer=customer, period_key=key)
            return SubmitResult(response=response, created=False)
        for answer in parsed.answers:
            answer.response = response
        Answer.objects.bulk_create(parsed.answers)
        tags_added = 0
        for option in parsed.options:
            for tag in option.tags.all():
                if tag.is_deleted:
                    continue
                _row, created = customer_tag_add(
                    customer=customer, tag=tag, source=CustomerTag.Source.SURVEY
                )
                tags_added += created
        new_events = events_record(
            events=[
                EventIn(
                    event_id=f"survey:{response.pk}:{option.pk}",
                    customer_id=customer.pk,
                    bank_record_id=customer.bank_record_id,
                    type=SURVEY_ANSWERED,
                    occurred_at=now,
                    properties={
                        "survey": survey.pk,
                        "survey_title": survey.title,
                        "question": option.question_id,
                        "option": option.pk,
                        "option_label": option.label,
                    },
                )
                for option in parsed.options
            ],
            source=Event.Source.SURVEY,
        )
        scored = [o for o in parsed.options if o.interest and o.points]
        known = set(
            Interest.objects.filter(code__in={o.interest for o in scored}).values_list(
                "code", flat=True
            )
        )
        for option in scored:
            if option.interest not in known:  # removed since ops saved the option
                log.warning("survey option %s: unknown interest %r", option.pk, option.interest)
                continue
            source_key = f"survey:{response.pk}:{option.pk}"
            event_id = new_events.get(source_key)
            score_add(
                customer_id=customer.pk,
                interest=option.interest,
                points=float(option.points),
                at=now,
                source_key=source_key,
                reason={
                    "kind": "survey",
                    "survey": survey.pk,
                    "response": response.pk,
                    "option": option.pk,
                    "event_ids": [event_id] if event_id else [],
                },
            )
    return SubmitResult(
        response=response, created=True, tags_added=tags_added, events=len(new_events)
    )


# --------------------------------------------------------------------------- export

EXPORT_HEADER = ("答卷ID", "提交时间", "周期", "客户", "客户ID", "题目", "回答")


def _answer_text(answer: Answer) -> str:
    if answer.option_id:
        return answer.option.label
    if answer.rating is not None:
        return str(answer.rating)
    return answer.text


@transaction.atomic
def responses_export_csv(*, user, survey_id: int, reveal: bool = False, request=None) -> str:
    """CSV of a survey's answers, one line per answer. Names and short texts are masked
    unless the user may reveal and asked to; audited (D14)."""
    if not user.has_perm(EXPORT_PERMISSION):
        raise DomainError("forbidden", _("没有导出问卷答卷的权限"), status=403)
    if reveal and not user.has_perm(REVEAL_PERMISSION):
        raise DomainError("forbidden", _("没有查看明文的权限"), status=403)
    survey = Survey.objects.filter(pk=survey_id).first()
    if survey is None:
        raise DomainError("not_found", _("问卷不存在"), status=404)
    answers = (
        Answer.objects.filter(response__survey=survey)
        .select_related("response__customer", "question", "option")
        .order_by("response_id", "question__order", "question_id", "option__order", "id")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    rows = 0
    responses: set[int] = set()
    for answer in answers.iterator(chunk_size=2000):
        response = answer.response
        customer = response.customer
        text = _answer_text(answer)
        if answer.text and not reveal:
            text = mask_text(text)
        writer.writerow(
            (
                response.pk,
                timezone.localtime(response.submitted_at).isoformat(),
                response.period_key,
                customer.name if reveal else mask_name(customer.name),
                customer.external_userid if reveal else "",
                answer.question.title,
                text,
            )
        )
        rows += 1
        responses.add(response.pk)
    audit_record(
        actor=user,
        action=AuditEvent.Action.EXPORT,
        target=survey,
        request=request,
        details={"rows": rows, "responses": len(responses), "revealed": reveal},
    )
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


@transaction.atomic
def answers_reveal_record(*, user, survey_id: int, count: int, request=None) -> None:
    """Audit that a user saw a survey's respondents and short texts in plain (D14)."""
    if not user.has_perm(REVEAL_PERMISSION):
        raise DomainError("forbidden", _("没有查看明文的权限"), status=403)
    audit_record(
        actor=user,
        action=AuditEvent.Action.REVEAL,
        target=("surveys.survey", survey_id),
        request=request,
        details={"answers": count},
    )


# --------------------------------------------------------------------------- building


@transaction.atomic
def survey_save(*, survey: Survey, actor) -> Survey:
    """Save ops' edit of a survey (the admin form); the first save names its author."""
    if survey.pk is None and survey.created_by_id is None and actor is not None:
        survey.created_by = actor
    survey.save()
    return survey


@dataclass(frozen=True)
class LinkOut:
    customer: Customer
    url: str


def survey_links_make(
    *, actor, survey_id: int, external_userids: list[str], customer_nos: list[str]
) -> tuple[list[LinkOut], list[str]]:
    """Personal links of a live survey for customers named by WeCom id or bank customer
    number (the bank's systems send them by SMS or show them in the app). Returns the
    links and the identifiers no customer was found for."""
    if not actor.has_perm("surveys.make_survey_links"):
        raise DomainError("forbidden", _("没有生成问卷链接的权限"), status=403)
    survey = Survey.objects.filter(pk=survey_id).first()
    if survey is None:
        raise DomainError("not_found", _("问卷不存在"), status=404)
    survey_open_check(survey)
    found: dict[str, Customer] = {}
    live = Customer.objects.exclude(status=Customer.Status.ERASED).select_related("bank_record")
    for customer in live.filter(external_userid__in=external_userids):
        found[customer.external_userid] = customer
    if customer_nos:
        for customer in (
            live.filter(bank_record__customer_no__in=customer_nos)
            .select_related("bank_record")
            .order_by("bank_record_id", "-created_at")
            .distinct("bank_record_id")
        ):
            found[customer.bank_record.customer_no] = customer
    links, missing = [], []
    for ident in [*external_userids, *customer_nos]:
        customer = found.get(ident)
        if customer is None:
            missing.append(ident)
        else:
            links.append(
                LinkOut(customer, survey_url(survey_id=survey.pk, customer_id=customer.pk))
            )
    return links, missing
