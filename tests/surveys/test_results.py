"""D9/D14: the results page counts answers per option; respondents and short texts are
masked for those who may not see personal data, revealed (audited) for those who may;
the CSV export needs its permission and is audited. Ops build a survey in the admin."""

from __future__ import annotations

import csv
import io

import pytest

from scrm.core.models import AuditEvent
from tagging.surveys.models import Option, Question, Survey
from tagging.surveys.services import survey_submit
from tests.factories import CustomerFactory
from tests.surveys.conftest import full_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(world):
    w = world
    survey_submit(survey_id=w.survey.pk, customer_id=w.customer.pk, answers=full_answers(w))
    li = CustomerFactory(external_userid="wmSURVEY03", name="李明")
    survey_submit(
        survey_id=w.survey.pk,
        customer_id=li.pk,
        answers=full_answers(
            w,
            {
                w.channel.pk: [str(w.friend.pk)],
                w.likes.pk: [str(w.funds.pk)],
                w.rating.pk: ["5"],
                w.note.pk: [],
            },
        ),
    )
    wang = CustomerFactory(external_userid="wmSURVEY04", name="王小红")
    survey_submit(
        survey_id=w.survey.pk,
        customer_id=wang.pk,
        answers=full_answers(w, {w.likes.pk: [str(w.food.pk)], w.rating.pk: ["3"]}),
    )
    return w


def _url(w, what: str) -> str:
    return f"/admin/surveys/survey/{w.survey.pk}/{what}/"


def test_results_count_each_option_and_average_the_rating(client, cast, answered):
    w = answered
    client.force_login(cast.ops)
    page = client.get(_url(w, "results"))
    assert page.status_code == 200
    ctx = page.context["results"]
    assert ctx.responses == 3
    by_q = {r.question.pk: r for r in ctx.questions}
    channel = {o.label: (o.count, o.percent) for o in by_q[w.channel.pk].options}
    assert channel == {"手机银行": (2, 66.7), "朋友推荐": (1, 33.3)}
    likes = {o.label: (o.count, o.percent) for o in by_q[w.likes.pk].options}
    assert likes == {"基金理财": (2, 66.7), "电影": (1, 33.3), "美食": (1, 33.3)}
    assert by_q[w.rating.pk].average == 4.0
    assert by_q[w.note.pk].answered == 2
    html = page.content.decode()
    assert "66.7%" in html and "4.0" in html


def test_respondents_and_texts_are_masked_unless_revealed_with_an_audit(client, cast, answered):
    w = answered
    client.force_login(cast.ops)  # ops staff: no contacts.reveal_pii
    html = client.get(_url(w, "results")).content.decode()
    assert "张*" in html and "张伟" not in html
    assert "希望多办理财讲座" not in html and "希*******" in html
    assert client.post(_url(w, "results"), {"reveal": "1"}).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REVEAL).exists()

    client.force_login(cast.ops_admin)
    html = client.get(_url(w, "results")).content.decode()
    assert "张伟" not in html  # masked by default for everyone
    html = client.post(_url(w, "results"), {"reveal": "1"}).content.decode()
    assert "张伟" in html and "希望多办理财讲座" in html
    audit = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    assert (audit.actor, audit.target_type, audit.target_id) == (
        cast.ops_admin,
        "surveys.survey",
        str(w.survey.pk),
    )
    assert audit.details == {"answers": 2}


def test_the_export_needs_its_permission_and_is_audited(client, cast, answered):
    w = answered
    client.force_login(cast.compliance)  # staff of the admin, no survey permissions
    assert client.get(_url(w, "export")).status_code == 403
    client.force_login(cast.ops)
    response = client.get(_url(w, "export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["答卷ID", "提交时间", "周期", "客户"]
    names = {r[3] for r in rows[1:]}
    assert names == {"张*", "李*", "王**"}
    assert "希望多办理财讲座" not in response.content.decode()
    assert len(rows) - 1 == 3 + 4 + 3 + 2  # channel, likes (4 picks), rating, 2 notes
    audit = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert audit.actor == cast.ops and audit.target_type == "surveys.survey"
    assert audit.details == {"rows": 12, "responses": 3, "revealed": False}
    # Plain text only for those who may reveal.
    assert client.get(_url(w, "export") + "?reveal=1").status_code == 403
    client.force_login(cast.ops_admin)
    plain = client.get(_url(w, "export") + "?reveal=1").content.decode("utf-8-sig")
    assert "张伟" in plain and "希望多办理财讲座" in plain
    assert AuditEvent.objects.filter(action="export", details__revealed=True).count() == 1


def test_ops_build_a_survey_with_questions_and_options_in_the_admin(client, cast, world):
    client.force_login(cast.ops)
    form = {
        "title": "满意度回访",
        "intro": "",
        "status": "draft",
        "repeat": "quarter",
        "thanks_text": "谢谢",
        "questions-TOTAL_FORMS": "1",
        "questions-INITIAL_FORMS": "0",
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "questions-0-order": "1",
        "questions-0-kind": "single",
        "questions-0-title": "您最喜欢的活动？",
        "questions-0-required": "on",
    }
    assert client.post("/admin/surveys/survey/add/", form).status_code == 302
    survey = Survey.objects.get(title="满意度回访")
    assert survey.created_by == cast.ops
    question = survey.questions.get()
    options = {
        "survey": str(survey.pk),
        "order": "1",
        "kind": "single",
        "title": "您最喜欢的活动？",
        "required": "on",
        "options-TOTAL_FORMS": "2",
        "options-INITIAL_FORMS": "0",
        "options-MIN_NUM_FORMS": "0",
        "options-MAX_NUM_FORMS": "1000",
        "options-0-order": "1",
        "options-0-label": "观影",
        "options-0-tags": [str(world.tag_movie.pk)],
        "options-0-interest": "movies",
        "options-0-points": "10",
        "options-1-order": "2",
        "options-1-label": "理财讲座",
        "options-1-interest": "no-such-interest",
        "options-1-points": "5",
    }
    url = f"/admin/surveys/question/{question.pk}/change/"
    refused = client.post(url, options)
    assert refused.status_code == 200
    assert "未知的兴趣代码" in refused.content.decode()
    options["options-1-interest"] = "funds"
    assert client.post(url, options).status_code == 302
    movie = Option.objects.get(question=question, label="观影")
    assert list(movie.tags.all()) == [world.tag_movie]
    assert (movie.interest, movie.points) == ("movies", 10)
    assert Question.objects.filter(survey=survey).count() == 1


def test_the_links_api_gives_personal_links_to_those_allowed(client, cast, world):
    from rest_framework.authtoken.models import Token

    from contacts.models import BankRecord
    from tests.factories import UserFactory

    record = BankRecord.objects.create(customer_no="C0001", name="张伟")
    world.customer.bank_record = record
    world.customer.save()
    url = f"/api/surveys/{world.survey.pk}/links/"
    body = {"external_userids": ["wmSURVEY01", "wmNOBODY"], "bank_customer_nos": ["C0001"]}
    client.force_login(cast.manager_a)
    assert client.post(url, body, content_type="application/json").status_code == 403
    bank = UserFactory(username="bank-systems")
    from django.contrib.auth.models import Permission

    bank.user_permissions.add(Permission.objects.get(codename="make_survey_links"))
    token = Token.objects.create(user=bank)
    client.logout()
    answer = client.post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["not_found"] == ["wmNOBODY"]
    assert [link["bank_customer_no"] for link in data["links"]] == ["C0001", "C0001"]
    path = data["links"][0]["url"].split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    world.survey.status = Survey.Status.CLOSED
    world.survey.save()
    closed = client.post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert closed.status_code == 409 and closed.json()["code"] == "survey_closed"


def test_ops_get_customers_links_in_the_admin(client, cast, world):
    client.force_login(cast.ops)
    url = _url(world, "links")
    assert client.get(url).status_code == 200
    page = client.post(url, {"external_userids": "wmSURVEY01\nwmNOBODY", "customer_nos": ""})
    assert page.status_code == 200
    links = page.context["links"]
    assert [(link["name"], link["customer"]) for link in links] == [("张*", world.customer)]
    assert page.context["missing"] == ["wmNOBODY"]
    path = "/" + links[0]["url"].split("://", 1)[1].split("/", 1)[1]
    assert "客户兴趣调查" in client.get(path).content.decode()
    empty = client.post(url, {"external_userids": "", "customer_nos": ""})
    assert "请至少填写一位客户" in empty.content.decode()
    client.force_login(cast.compliance)
    assert client.get(url).status_code == 403


def test_an_answered_option_cannot_be_deleted_but_the_whole_survey_can(client, cast, answered):
    from django.db.models import RestrictedError

    from tagging.surveys.models import Answer, Response

    w = answered
    with pytest.raises(RestrictedError):
        w.funds.delete()
    with pytest.raises(RestrictedError):
        w.likes.delete()
    w.survey.delete()
    assert not Response.objects.exists() and not Answer.objects.exists()
