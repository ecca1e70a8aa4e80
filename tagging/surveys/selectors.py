"""Reads on surveys: the results page (counts per option, ratings, short texts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Avg, Count

from contacts.crypto import mask_name

from .masking import mask_text
from .models import Answer, Question, Response, Survey


@dataclass
class OptionCount:
    option_id: int
    label: str
    count: int
    percent: float


@dataclass
class TextAnswer:
    respondent: str
    text: str
    submitted_at: object


@dataclass
class QuestionResult:
    question: Question
    answered: int = 0
    options: list[OptionCount] = field(default_factory=list)
    average: float | None = None
    ratings: list[OptionCount] = field(default_factory=list)
    texts: list[TextAnswer] = field(default_factory=list)


@dataclass
class SurveyResults:
    survey: Survey
    responses: int
    questions: list[QuestionResult]
    texts_shown: int = 0


def _percent(count: int, total: int) -> float:
    return round(count * 100.0 / total, 1) if total else 0.0


def survey_results(
    *, survey: Survey, reveal: bool = False, texts_limit: int = 100
) -> SurveyResults:
    """Counts and percentages per option (of the customers who answered the question),
    the average and spread of ratings, and the latest short texts (respondent and text
    masked unless ``reveal``). A few grouped queries, whatever the number of answers."""
    questions = list(survey.questions.prefetch_related("options").order_by("order", "id"))
    answers = Answer.objects.filter(response__survey=survey)
    answered = dict(
        answers.values("question_id")
        .annotate(n=Count("response_id", distinct=True))
        .values_list("question_id", "n")
    )
    per_option = dict(
        answers.filter(option__isnull=False)
        .values("option_id")
        .annotate(n=Count("id"))
        .values_list("option_id", "n")
    )
    per_rating: dict[tuple[int, int], int] = {
        (row["question_id"], row["rating"]): row["n"]
        for row in answers.filter(rating__isnull=False)
        .values("question_id", "rating")
        .annotate(n=Count("id"))
    }
    averages = dict(
        answers.filter(rating__isnull=False)
        .values("question_id")
        .annotate(avg=Avg("rating"))
        .values_list("question_id", "avg")
    )
    results: list[QuestionResult] = []
    shown = 0
    for question in questions:
        total = answered.get(question.pk, 0)
        result = QuestionResult(question=question, answered=total)
        if question.has_options:
            for option in question.options.all():
                n = per_option.get(option.pk, 0)
                result.options.append(OptionCount(option.pk, option.label, n, _percent(n, total)))
        elif question.kind == Question.Kind.RATING:
            avg = averages.get(question.pk)
            result.average = round(avg, 2) if avg is not None else None
            for score in range(1, 6):
                n = per_rating.get((question.pk, score), 0)
                result.ratings.append(OptionCount(score, f"{score} 分", n, _percent(n, total)))
        else:
            rows = (
                answers.filter(question=question)
                .exclude(text="")
                .select_related("response__customer")
                .order_by("-response__submitted_at", "-id")[:texts_limit]
            )
            for row in rows:
                name = row.response.customer.name
                result.texts.append(
                    TextAnswer(
                        respondent=name if reveal else mask_name(name),
                        text=row.text if reveal else mask_text(row.text),
                        submitted_at=row.response.submitted_at,
                    )
                )
                shown += 1
        results.append(result)
    return SurveyResults(
        survey=survey,
        responses=Response.objects.filter(survey=survey).count(),
        questions=results,
        texts_shown=shown,
    )


def survey_page(*, survey_id: int) -> Survey | None:
    return Survey.objects.filter(pk=survey_id).first()
