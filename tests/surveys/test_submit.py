"""D9: a survey answered on its H5 page tags the customer (source survey), adds intent
points and records one behaviour event per chosen option, once per period."""

from __future__ import annotations

from datetime import datetime

import pytest

from scrm.core.workdays import SHANGHAI
from tagging.behaviour.models import Event
from tagging.intent.models import Contribution, Score
from tagging.models import CustomerTag
from tagging.surveys.links import survey_path, survey_token_make, survey_url
from tagging.surveys.models import Answer, Response, Survey
from tagging.surveys.services import survey_submit
from tests.surveys.conftest import form_data, full_answers, survey_build

pytestmark = pytest.mark.django_db


def _path(w) -> str:
    return survey_path(survey_id=w.survey.pk, customer_id=w.customer.pk)


def test_an_answer_adds_its_tags_points_and_events(client, world):
    w = world
    page = client.get(_path(w))
    assert page.status_code == 200
    text = page.content.decode()
    assert "客户兴趣调查" in text and "您从哪里了解到我们？" in text and "基金理财" in text

    answered = client.post(_path(w), form_data(full_answers(w)))
    assert answered.status_code == 302
    done = client.get(answered["Location"])
    assert "提交成功" in done.content.decode()

    response = Response.objects.get(survey=w.survey, customer=w.customer)
    assert response.period_key == ""
    tags = CustomerTag.objects.filter(customer=w.customer, source="survey")
    assert {(t.tag.name, t.source) for t in tags} == {
        ("来自手机银行", "survey"),
        ("关注基金", "survey"),
        ("喜欢电影", "survey"),
    }
    scores = {s.interest.code: s.points for s in Score.objects.filter(customer=w.customer)}
    assert scores == {"funds": pytest.approx(20.0), "movies": pytest.approx(15.0)}
    assert set(Contribution.objects.values_list("source_key", flat=True)) == {
        f"survey:{response.pk}:{w.funds.pk}",
        f"survey:{response.pk}:{w.movies.pk}",
    }
    events = Event.objects.filter(customer=w.customer, type="survey_answered", source="survey")
    assert {e.event_id for e in events} == {
        f"survey:{response.pk}:{o.pk}" for o in (w.app, w.funds, w.movies)
    }
    funds = events.get(event_id=f"survey:{response.pk}:{w.funds.pk}")
    assert funds.properties == {
        "survey": w.survey.pk,
        "survey_title": "客户兴趣调查",
        "question": w.likes.pk,
        "option": w.funds.pk,
        "option_label": "基金理财",
    }
    assert Answer.objects.get(response=response, question=w.rating).rating == 4
    assert Answer.objects.get(response=response, question=w.note).text == "希望多办理财讲座"


def test_a_second_submit_records_nothing_and_says_already_submitted(client, world):
    w = world
    client.post(_path(w), form_data(full_answers(w)))
    again = client.post(_path(w), form_data(full_answers(w, {w.channel.pk: [str(w.friend.pk)]})))
    assert again.status_code == 200
    assert "已提交" in again.content.decode()
    assert Response.objects.filter(survey=w.survey).count() == 1
    assert Answer.objects.filter(option=w.friend).count() == 0
    assert Event.objects.filter(type="survey_answered").count() == 3
    assert "已提交" in client.get(_path(w)).content.decode()


def test_a_monthly_survey_records_once_per_month(cast, world):
    w = world
    w.survey.repeat = Survey.Repeat.MONTH
    w.survey.save()
    dec = datetime(2026, 12, 3, 10, tzinfo=SHANGHAI)
    first = survey_submit(
        survey_id=w.survey.pk, customer_id=w.customer.pk, answers=full_answers(w), now=dec
    )
    same = survey_submit(
        survey_id=w.survey.pk,
        customer_id=w.customer.pk,
        answers=full_answers(w),
        now=datetime(2026, 12, 31, 23, 30, tzinfo=SHANGHAI),
    )
    jan = survey_submit(
        survey_id=w.survey.pk,
        customer_id=w.customer.pk,
        answers=full_answers(w),
        now=datetime(2027, 1, 1, 0, 10, tzinfo=SHANGHAI),
    )
    assert first.created and not same.created and jan.created
    assert same.response.pk == first.response.pk
    assert sorted(Response.objects.values_list("period_key", flat=True)) == ["2026-12", "2027-01"]
    # Points of each period are counted once each (their source keys differ).
    assert Contribution.objects.filter(customer=w.customer).count() == 4
    assert Event.objects.filter(customer=w.customer, type="survey_answered").count() == 6


def test_required_questions_and_foreign_options_get_chinese_field_errors(client, world):
    w = world
    answers = full_answers(w)
    del answers[w.channel.pk]  # required single choice left out
    answers[w.likes.pk] = [str(w.app.pk)]  # an option of another question
    answers[w.rating.pk] = ["9"]
    page = client.post(_path(w), form_data(answers))
    assert page.status_code == 400
    text = page.content.decode()
    assert "请检查标红的题目" in text
    assert "此题为必答题" in text
    assert "选项无效，请重新选择" in text
    assert "请选择 1-5 分" in text
    # What the customer did fill in is kept on the page.
    assert "希望多办理财讲座" in text
    assert not Response.objects.exists()
    assert not CustomerTag.objects.exists()
    assert not Event.objects.exists()

    two = full_answers(w, {w.channel.pk: [str(w.app.pk), str(w.friend.pk)]})
    assert "此题只能选择一项" in client.post(_path(w), form_data(two)).content.decode()
    # An optional question may be left out.
    answers = full_answers(w)
    del answers[w.note.pk]
    assert client.post(_path(w), form_data(answers)).status_code == 302


@pytest.mark.parametrize(
    "token",
    [
        "forged-token.AbCdEf",
        "tampered",
        # A valid token of another kind of link (the campaign claim link's salt).
        None,
    ],
)
def test_a_forged_or_foreign_link_is_refused_and_changes_nothing(client, world, token):
    from campaigns.links import claim_token_make

    w = world
    if token is None:
        token = claim_token_make(customer_id=w.customer.pk, campaign_id=w.survey.pk)
    elif token == "tampered":
        good = survey_token_make(survey_id=w.survey.pk, customer_id=w.customer.pk)
        token = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    path = f"/h5/s/{token}/"
    assert client.get(path).status_code == 403
    posted = client.post(path, form_data(full_answers(w)))
    assert posted.status_code == 403
    assert "链接无效" in posted.content.decode()
    assert not Response.objects.exists() and not CustomerTag.objects.exists()


def test_a_closed_survey_says_so(client, world):
    w = world
    w.survey.status = Survey.Status.CLOSED
    w.survey.save()
    page = client.get(_path(w))
    assert "本问卷已结束" in page.content.decode()
    posted = client.post(_path(w), form_data(full_answers(w)))
    assert posted.status_code == 409
    assert "本问卷已结束" in posted.content.decode()
    assert not Response.objects.exists()


def test_survey_url_is_absolute_and_opens_the_page(client, world, settings):
    settings.SCRM_PUBLIC_URL = "https://scrm.example-bank.cn/"
    url = survey_url(survey_id=world.survey.pk, customer_id=world.customer.pk)
    assert url.startswith("https://scrm.example-bank.cn/h5/s/")
    assert client.get(url.removeprefix("https://scrm.example-bank.cn")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_survey_tags_reach_wecom_through_the_worker(cast, wecom_sandbox, celery_worker_process):
    """The tags an answer adds are marked on the customer in WeCom (mark_tag) by a real
    worker after the submit commits."""
    import time

    from tagging.models import TagGroup
    from tagging.services import TagDraft, tag_group_push, tag_group_save
    from tests.factories import CustomerFactory, FollowRelationFactory

    wecom_sandbox.seed_staff("lina")
    group = tag_group_save(
        group=TagGroup(name="问卷标签"),
        tags=[TagDraft(name="关注基金"), TagDraft(name="喜欢电影"), TagDraft(name="来自手机银行")],
    )
    group = tag_group_push(group_id=group.pk)
    tags = {t.name: t for t in group.tags.all()}
    w = survey_build(
        tags={"fund": tags["关注基金"], "movie": tags["喜欢电影"], "app": tags["来自手机银行"]}
    )
    customer = CustomerFactory(external_userid="wmSURVEY02", name="刘洋")
    wecom_sandbox.control(
        "customers",
        customers=[
            {"external_userid": "wmSURVEY02", "name": "刘洋", "follow": [{"userid": "lina"}]}
        ],
    )
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    survey_submit(
        survey_id=w["survey"].pk,
        customer_id=customer.pk,
        answers={
            w["channel"].pk: [str(w["app"].pk)],
            w["likes"].pk: [str(w["funds"].pk)],
            w["rating"].pk: ["5"],
        },
    )
    wanted = {tags["来自手机银行"].wecom_id, tags["关注基金"].wecom_id}
    deadline = time.monotonic() + 30
    marked: set[str] = set()
    while time.monotonic() < deadline:
        marks = [
            m for m in wecom_sandbox.state()["tag_marks"] if m["external_userid"] == "wmSURVEY02"
        ]
        marked = {t for m in marks for t in m["add_tag"]}
        if marked >= wanted:
            break
        time.sleep(0.3)
    assert wanted <= marked  # (the intent level the points reached is marked too)


def test_an_expired_link_says_so_and_records_nothing(client, world, settings):
    w = world
    path = _path(w)
    settings.SURVEY_LINK_MAX_AGE_S = -1  # every link is older than that
    page = client.post(path, form_data(full_answers(w)))
    assert page.status_code == 403
    assert "链接已过期" in page.content.decode()
    assert not Response.objects.exists()
