"""A survey about wealth and leisure, with tags on its options, and a customer of 李娜's."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tagging.models import Tag, TagGroup
from tagging.surveys.models import Option, Question, Survey
from tests.factories import CustomerFactory, FollowRelationFactory


@dataclass
class SurveyWorld:
    survey: Survey
    channel: Question  # single: how did you hear of us
    likes: Question  # multiple: what do you like
    rating: Question  # rating: how satisfied
    note: Question  # short text, optional
    app: Option
    friend: Option
    funds: Option
    movies: Option
    food: Option
    tag_fund: Tag
    tag_movie: Tag
    tag_app: Tag
    customer: object


def survey_build(*, repeat=Survey.Repeat.ONCE, status=Survey.Status.LIVE, tags=None) -> dict:
    group = TagGroup.objects.get_or_create(name="问卷标签")[0]
    tags = tags or {}
    tag_fund = tags.get("fund") or Tag.objects.get_or_create(group=group, name="关注基金")[0]
    tag_movie = tags.get("movie") or Tag.objects.get_or_create(group=group, name="喜欢电影")[0]
    tag_app = tags.get("app") or Tag.objects.get_or_create(group=group, name="来自手机银行")[0]
    survey = Survey.objects.create(
        title="客户兴趣调查", intro="耽误您一分钟", status=status, repeat=repeat
    )
    channel = Question.objects.create(
        survey=survey, order=1, kind="single", title="您从哪里了解到我们？"
    )
    app = Option.objects.create(question=channel, order=1, label="手机银行")
    app.tags.add(tag_app)
    friend = Option.objects.create(question=channel, order=2, label="朋友推荐")
    likes = Question.objects.create(survey=survey, order=2, kind="multiple", title="您感兴趣的有？")
    funds = Option.objects.create(
        question=likes, order=1, label="基金理财", interest="funds", points=20
    )
    funds.tags.add(tag_fund)
    movies = Option.objects.create(
        question=likes, order=2, label="电影", interest="movies", points=15
    )
    movies.tags.add(tag_movie)
    food = Option.objects.create(question=likes, order=3, label="美食")
    rating = Question.objects.create(
        survey=survey, order=3, kind="rating", title="您对我们的服务满意吗？"
    )
    note = Question.objects.create(
        survey=survey, order=4, kind="text", title="还有什么建议？", required=False
    )
    return dict(
        survey=survey,
        channel=channel,
        likes=likes,
        rating=rating,
        note=note,
        app=app,
        friend=friend,
        funds=funds,
        movies=movies,
        food=food,
        tag_fund=tag_fund,
        tag_movie=tag_movie,
        tag_app=tag_app,
    )


@pytest.fixture
def world(cast) -> SurveyWorld:
    customer = CustomerFactory(external_userid="wmSURVEY01", name="张伟")
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    return SurveyWorld(**survey_build(), customer=customer)


def full_answers(w: SurveyWorld, over: dict | None = None) -> dict[int, list[str]]:
    answers = {
        w.channel.pk: [str(w.app.pk)],
        w.likes.pk: [str(w.funds.pk), str(w.movies.pk)],
        w.rating.pk: ["4"],
        w.note.pk: ["希望多办理财讲座"],
    }
    answers.update(over or {})
    return answers


def form_data(answers: dict[int, list[str]]) -> dict[str, list[str]]:
    return {f"q{k}": v for k, v in answers.items()}
