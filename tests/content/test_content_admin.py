"""The content library in the admin: ops submit, the banned phrase is shown
highlighted, compliance approve or reject from the review queue (D6)."""

import pytest

from scrm.content import services
from scrm.content.models import Content, ContentReview

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/content/content/add/"


def post_content(client, text, **extra):
    data = {"title": "理财推荐", "text": text, "attachments": "[]", **extra}
    return client.post(ADD_URL, data)


def test_banned_phrase_blocks_admin_submission_with_the_phrase_highlighted(client, cast):
    client.force_login(cast.ops)
    response = post_content(client, "<b>本产品</b>保本保息", _submit="1")
    assert response.status_code == 200
    html = response.content.decode()
    assert "含有金融营销禁用词「保本」（正文第 11 个字）" in html
    assert '<mark class="banned-phrase">保本</mark>' in html
    assert "&lt;b&gt;本产品&lt;/b&gt;" in html  # the text around it is escaped
    assert not Content.objects.exists()


def test_saving_a_draft_with_a_banned_phrase_is_allowed_but_submitting_is_not(client, cast):
    client.force_login(cast.ops)
    response = post_content(client, "稳赚")
    assert response.status_code == 302
    assert Content.objects.get().status == Content.Status.DRAFT


def test_ops_submit_from_the_admin_and_the_version_is_frozen(client, cast):
    client.force_login(cast.ops)
    response = post_content(client, "{客户名称}您好，周三美食五折", _submit="1")
    assert response.status_code == 302
    content = Content.objects.get()
    assert content.status == Content.Status.PENDING
    assert content.pending_version.submitted_by == cast.ops


def test_compliance_approves_from_the_review_queue(client, cast, submitted_content):
    client.force_login(cast.compliance)
    queue = client.get("/admin/content/contentreviewqueue/")
    assert queue.status_code == 200
    assert "周三美食福利" in queue.content.decode()

    page = client.get(f"/admin/content/contentreviewqueue/{submitted_content.pk}/change/")
    html = page.content.decode()
    assert "审核通过" in html and "驳回" in html
    assert 'name="_submit"' not in html  # reviewers do not edit or submit

    response = client.post(
        f"/admin/content/contentreviewqueue/{submitted_content.pk}/review/",
        {"decision": "approve", "comment": "同意", "version": "1"},
        follow=True,
    )
    assert "已审核通过" in response.content.decode()
    review = ContentReview.objects.get()
    assert (review.reviewer, review.comment, review.decision) == (
        cast.compliance,
        "同意",
        "approved",
    )
    submitted_content.refresh_from_db()
    assert submitted_content.status == Content.Status.APPROVED


def test_compliance_rejects_with_a_comment_and_ops_can_resubmit(client, cast, submitted_content):
    client.force_login(cast.compliance)
    url = f"/admin/content/content/{submitted_content.pk}/review/"
    response = client.post(url, {"decision": "reject", "comment": ""}, follow=True)
    assert "驳回时请填写审核意见" in response.content.decode()
    client.post(url, {"decision": "reject", "comment": "请注明活动期限"})
    submitted_content.refresh_from_db()
    assert submitted_content.status == Content.Status.REJECTED

    client.force_login(cast.ops)
    response = client.post(
        f"/admin/content/content/{submitted_content.pk}/change/",
        {
            "title": "周三美食福利",
            "text": "周三美食五折，至6月30日",
            "attachments": "[]",
            "_submit": "1",
        },
    )
    assert response.status_code == 302
    submitted_content.refresh_from_db()
    assert submitted_content.status == Content.Status.PENDING
    assert submitted_content.pending_version.number == 2


def test_the_submitter_sees_the_four_eyes_refusal_in_the_admin(client, cast):
    from scrm.core.roles import Role
    from tests.factories import UserFactory

    both = UserFactory(
        username="dual", is_staff=True, roles=[Role.OPS_STAFF, Role.COMPLIANCE_REVIEWER]
    )
    content = services.content_create(actor=both, title="自审", text="你好")
    services.content_submit(actor=both, content_id=content.pk)
    client.force_login(both)
    response = client.post(
        f"/admin/content/content/{content.pk}/review/", {"decision": "approve"}, follow=True
    )
    assert "不能审核通过自己提交或修改的内容" in response.content.decode()
    assert not ContentReview.objects.exists()


def test_ops_cannot_post_a_review_decision(client, cast, submitted_content):
    client.force_login(cast.ops)
    response = client.post(
        f"/admin/content/content/{submitted_content.pk}/review/", {"decision": "approve"}
    )
    assert response.status_code == 403


def test_compliance_maintains_banned_phrases_and_ops_cannot_change_them(client, cast):
    client.force_login(cast.compliance)
    response = client.post(
        "/admin/content/bannedphrase/add/",
        {"phrase": "稳赚不赔", "exceptions": "", "reason": "承诺收益", "is_active": "on"},
    )
    assert response.status_code == 302
    client.force_login(cast.ops)
    assert client.get("/admin/content/bannedphrase/").status_code == 200
    assert client.get("/admin/content/bannedphrase/add/").status_code == 403


def test_admin_review_errors_are_in_english_with_accept_language_en(
    client, cast, submitted_content
):
    client.force_login(cast.compliance)
    response = client.post(
        f"/admin/content/content/{submitted_content.pk}/review/",
        {"decision": "reject", "comment": ""},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert "Please give a reason when rejecting" in html
    assert "驳回时请填写审核意见" not in html


@pytest.mark.parametrize("state", ["draft", "pending", "approved"])
def test_a_reviewer_saving_the_content_form_gets_a_form_error_not_a_crash(
    client, cast, welcome_text, state
):
    """Reviewers have no save button, but a stale or hand-made POST must not 500."""
    content = services.content_create(actor=cast.ops, title="周三美食福利", text=welcome_text)
    if state != "draft":
        services.content_submit(actor=cast.ops, content_id=content.pk)
    if state == "approved":
        services.content_approve(actor=cast.compliance, content_id=content.pk, comment="同意")
    client.force_login(cast.compliance)
    for url in (
        f"/admin/content/content/{content.pk}/change/",
        f"/admin/content/contentreviewqueue/{content.pk}/change/",
    ):
        response = client.post(
            url, {"title": "改过的标题", "text": "保本保息", "attachments": "[]", "_save": "1"}
        )
        if "contentreviewqueue" in url and state != "pending":
            assert response.status_code == 302  # not in the queue: back to the list
            continue
        assert response.status_code == 200
        html = response.content.decode()
        assert "errornote" in html
        expected = "内容正在审核中" if state == "pending" else "只有运营人员可以修改内容"
        assert expected in html
    content.refresh_from_db()
    assert (content.title, content.text) == ("周三美食福利", welcome_text)
