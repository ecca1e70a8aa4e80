"""Compliance review of the content library: submission checks, four-eyes,
versions and what may be sent (D6, D10)."""

import pytest

from scrm.content import selectors, services
from scrm.content.models import BannedPhrase, Content, ContentReview
from scrm.core.errors import DomainError

pytestmark = pytest.mark.django_db


def test_default_banned_phrases_are_seeded_for_compliance():
    phrases = set(BannedPhrase.objects.filter(is_active=True).values_list("phrase", flat=True))
    assert {"保本", "稳赚", "零风险", "无风险", "保证收益"} <= phrases


def test_banned_phrase_blocks_submission_and_names_phrase_and_position(cast):
    content = services.content_create(
        actor=cast.ops, title="理财推荐", text="本产品零风险，稳赚不赔"
    )
    with pytest.raises(DomainError) as exc:
        services.content_submit(actor=cast.ops, content_id=content.pk)
    assert exc.value.code == "banned_phrase"
    assert [(h.phrase, h.start) for h in exc.value.hits] == [("零风险", 3), ("稳赚", 7)]
    assert "「零风险」（正文第 4 个字）" in exc.value.message
    content.refresh_from_db()
    assert content.status == Content.Status.DRAFT
    assert not content.versions.exists()


def test_a_phrase_compliance_adds_blocks_the_next_submission(cast):
    BannedPhrase.objects.create(phrase="稳稳的幸福")
    content = services.content_create(actor=cast.ops, title="存款", text="给你稳稳的幸福")
    with pytest.raises(DomainError) as exc:
        services.content_submit(actor=cast.ops, content_id=content.pk)
    assert exc.value.hits[0].phrase == "稳稳的幸福"


def test_unapproved_content_cannot_be_fetched_for_sending(cast, submitted_content):
    with pytest.raises(DomainError) as exc:
        selectors.content_get_approved(content_id=submitted_content.pk)
    assert exc.value.code == "content_not_approved"
    draft = services.content_create(actor=cast.ops, title="草稿", text="你好")
    with pytest.raises(DomainError) as exc:
        selectors.content_get_approved(content_id=draft.pk)
    assert exc.value.code == "content_not_approved"


def test_a_version_that_was_never_approved_cannot_be_built_into_a_message(cast, submitted_content):
    with pytest.raises(DomainError) as exc:
        services.content_message_build(
            version=submitted_content.pending_version,
            variables={"客户名称": "张", "客户经理": "李"},
        )
    assert exc.value.code == "content_not_approved"


def test_approved_content_is_sent_as_the_approved_version_with_variables_filled(
    cast, approved_content
):
    version = selectors.content_get_approved(content_id=approved_content.pk)
    payload = services.content_message_build(
        version=version, variables={"客户名称": "张先生", "客户经理": "李娜"}
    )
    assert payload["text"]["content"].startswith("张先生您好，我是您的客户经理李娜")
    assert payload["attachments"] == []
    review = ContentReview.objects.get(version=version)
    assert (review.reviewer, review.comment, review.decision) == (
        cast.compliance,
        "符合要求",
        ContentReview.Decision.APPROVED,
    )
    assert review.decided_at is not None


def test_editing_approved_content_sends_it_back_to_review_but_keeps_the_approved_version_sendable(
    cast, approved_content
):
    """Scheduled SOP content must not vanish while a correction waits for compliance."""
    services.content_update(
        actor=cast.ops, content_id=approved_content.pk, text="{客户名称}您好，本周四电影票半价。"
    )
    approved_content.refresh_from_db()
    assert approved_content.status == Content.Status.PENDING
    assert approved_content.pending_version.number == 2
    sendable = selectors.content_get_approved(content_id=approved_content.pk)
    assert sendable.number == 1
    assert "美食五折" in sendable.text

    services.content_approve(actor=cast.compliance, content_id=approved_content.pk)
    assert selectors.content_get_approved(content_id=approved_content.pk).number == 2


def test_renaming_approved_content_does_not_need_a_new_review(cast, approved_content):
    services.content_update(actor=cast.ops, content_id=approved_content.pk, title="周三美食（新）")
    approved_content.refresh_from_db()
    assert approved_content.status == Content.Status.APPROVED
    assert approved_content.versions.count() == 1


def test_editing_approved_content_into_a_banned_phrase_is_refused_and_nothing_changes(
    cast, approved_content
):
    with pytest.raises(DomainError) as exc:
        services.content_update(actor=cast.ops, content_id=approved_content.pk, text="保证收益")
    assert exc.value.code == "banned_phrase"
    approved_content.refresh_from_db()
    assert approved_content.status == Content.Status.APPROVED
    assert "美食五折" in approved_content.text


def test_a_reviewer_cannot_approve_their_own_submission(cast):
    """Four-eyes: a compliance reviewer who also writes content needs a colleague."""
    from scrm.core.roles import Role
    from tests.factories import UserFactory

    both = UserFactory(
        username="ops_and_compliance",
        is_staff=True,
        roles=[Role.OPS_STAFF, Role.COMPLIANCE_REVIEWER],
    )
    content = services.content_create(actor=both, title="自审", text="欢迎")
    services.content_submit(actor=both, content_id=content.pk)
    with pytest.raises(DomainError) as exc:
        services.content_approve(actor=both, content_id=content.pk)
    assert exc.value.code == "four_eyes"
    services.content_approve(actor=cast.compliance, content_id=content.pk)


def test_a_customer_manager_or_ops_cannot_approve(cast, submitted_content):
    for user in (cast.manager_a, cast.ops, cast.ops_admin):
        with pytest.raises(DomainError) as exc:
            services.content_approve(actor=user, content_id=submitted_content.pk)
        assert exc.value.code == "forbidden"
    submitted_content.refresh_from_db()
    assert submitted_content.status == Content.Status.PENDING


def test_a_customer_manager_cannot_write_content(cast):
    with pytest.raises(DomainError) as exc:
        services.content_create(actor=cast.manager_a, title="自己写的", text="你好")
    assert exc.value.code == "forbidden"


def test_rejected_content_can_be_edited_and_resubmitted_and_every_decision_is_kept(
    cast, submitted_content
):
    with pytest.raises(DomainError) as exc:
        services.content_reject(actor=cast.compliance, content_id=submitted_content.pk, comment="")
    assert exc.value.code == "comment_required"
    services.content_reject(
        actor=cast.compliance, content_id=submitted_content.pk, comment="请注明活动期限"
    )
    submitted_content.refresh_from_db()
    assert submitted_content.status == Content.Status.REJECTED
    with pytest.raises(DomainError):
        selectors.content_get_approved(content_id=submitted_content.pk)

    services.content_update(
        actor=cast.ops,
        content_id=submitted_content.pk,
        text="{客户名称}您好，本周三美食五折（活动至6月30日）。",
    )
    services.content_submit(actor=cast.ops, content_id=submitted_content.pk)
    services.content_approve(actor=cast.compliance, content_id=submitted_content.pk)

    reviews = list(selectors.content_reviews(content_id=submitted_content.pk))
    assert [(r.version.number, r.decision) for r in reviews] == [(2, "approved"), (1, "rejected")]
    assert reviews[1].comment == "请注明活动期限"
    first = submitted_content.versions.get(number=1)
    assert "活动至" not in first.text  # the snapshot did not follow the edit


def test_content_under_review_is_locked_for_editing(cast, submitted_content):
    with pytest.raises(DomainError) as exc:
        services.content_update(actor=cast.ops, content_id=submitted_content.pk, text="改一下")
    assert exc.value.code == "content_pending_review"


def test_approval_rechecks_phrases_added_after_submission(cast, submitted_content):
    BannedPhrase.objects.create(phrase="五折")
    with pytest.raises(DomainError) as exc:
        services.content_approve(actor=cast.compliance, content_id=submitted_content.pk)
    assert exc.value.code == "banned_phrase"


def test_reviewing_a_superseded_version_number_is_refused(cast, submitted_content):
    with pytest.raises(DomainError) as exc:
        services.content_approve(
            actor=cast.compliance, content_id=submitted_content.pk, version_number=7
        )
    assert exc.value.code == "version_superseded"


def test_managers_read_only_approved_content(cast, approved_content):
    draft = services.content_create(actor=cast.ops, title="草稿", text="你好")
    pending = services.content_create(actor=cast.ops, title="待审", text="你好")
    services.content_submit(actor=cast.ops, content_id=pending.pk)
    visible = set(selectors.content_list_for(user=cast.manager_a).values_list("pk", flat=True))
    assert visible == {approved_content.pk}
    assert draft.pk in set(selectors.content_list_for(user=cast.ops).values_list("pk", flat=True))
