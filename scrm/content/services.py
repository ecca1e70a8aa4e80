"""Business actions of the content library: write, submit, review.

Every action takes the acting user and checks their role here, so the admin,
the API and any future caller get the same rules (four-eyes included).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError
from scrm.core.role_names import OPS_ROLES
from scrm.core.roles import Role, user_has_any_role, user_has_role

from . import hooks, rules
from .models import BannedPhrase, Content, ContentReview, ContentVersion

EDITOR_ROLES = OPS_ROLES


def user_is_editor(user) -> bool:
    """Ops write and submit content."""
    return user_has_any_role(user, *EDITOR_ROLES)


def user_is_reviewer(user) -> bool:
    # Deliberately no superuser shortcut: approval is a named compliance duty.
    return user_has_role(user, Role.COMPLIANCE_REVIEWER)


def _require_editor(user) -> None:
    if not user_is_editor(user):
        raise DomainError("forbidden", _("只有运营人员可以编辑或提交内容"), status=403)


def _require_reviewer(user) -> None:
    if not user_is_reviewer(user):
        raise DomainError("forbidden", _("只有合规审核员可以审核内容"), status=403)


def _locked(content_id: int) -> Content:
    try:
        return Content.objects.select_for_update().get(pk=content_id)
    except Content.DoesNotExist:
        raise DomainError("content_not_found", _("内容不存在"), status=404) from None


# The banned phrases of financial marketing a new installation starts with: promises of
# guaranteed principal or returns. (phrase, allowed wordings that contain it, reason)
BANNED_PHRASE_DEFAULTS = [
    ("保本", "非保本\n不保本", "承诺保本"),
    ("稳赚", "", "承诺收益"),
    ("零风险", "", "否认风险"),
    ("无风险", "", "否认风险"),
    ("保证收益", "", "承诺收益"),
]


def banned_phrases_seed() -> int:
    """Create the default phrases that are missing; one compliance changed is left alone."""
    created = 0
    for phrase, exceptions, reason in BANNED_PHRASE_DEFAULTS:
        _row, new = BannedPhrase.objects.get_or_create(
            phrase=phrase, defaults={"exceptions": exceptions, "reason": reason}
        )
        created += int(new)
    return created


def banned_phrase_rules() -> list[rules.PhraseRule]:
    return [
        rules.PhraseRule(p.phrase, p.exception_list())
        for p in BannedPhrase.objects.filter(is_active=True)
    ]


def banned_phrase_check(*, text: str, attachments: object = None) -> list[rules.PhraseHit]:
    """The banned phrases in a draft, with positions; an empty list when clean."""
    clean = rules.attachments_normalize(attachments)
    found: list[rules.PhraseHit] = []
    current = banned_phrase_rules()
    for field, value in rules.sendable_texts(text, clean):
        found.extend(rules.phrases_find(value, current, field=field))
    return found


def content_submission_check(*, text: str, attachments: object) -> list[dict]:
    """Run every submission check; returns the normalized attachments.

    Raises ``ContentCheckError`` (a ``DomainError``) naming the first problem;
    for banned phrases it carries every hit with its position.
    """
    clean, _used = rules.submission_check(
        text=text, attachments=attachments, rules=banned_phrase_rules()
    )
    return clean


@transaction.atomic
def content_create(*, actor, title: str, text: str = "", attachments: object = None) -> Content:
    _require_editor(actor)
    title = (title or "").strip()
    if not title:
        raise DomainError("title_required", _("请填写名称"))
    clean = rules.attachments_normalize(attachments)
    return Content.objects.create(
        title=title, text=text or "", attachments=clean, created_by=actor, updated_by=actor
    )


@transaction.atomic
def content_update(
    *,
    actor,
    content_id: int,
    title: str | None = None,
    text: str | None = None,
    attachments: object = None,
) -> Content:
    """Change the working copy. Editing approved content sends it back to review.

    The approved version stays sendable until the new version is approved.
    Content waiting for review is locked: the reviewer must see what they decide on.
    """
    _require_editor(actor)
    content = _locked(content_id)
    if content.status == Content.Status.PENDING:
        raise DomainError(
            "content_pending_review", _("内容正在审核中，审核完成后才能修改"), status=409
        )
    new_title = content.title if title is None else title.strip()
    if not new_title:
        raise DomainError("title_required", _("请填写名称"))
    new_text = content.text if text is None else text
    new_attachments = (
        content.attachments if attachments is None else rules.attachments_normalize(attachments)
    )
    body_changed = new_text != content.text or new_attachments != content.attachments
    content.title = new_title
    content.text = new_text
    content.attachments = new_attachments
    content.updated_by = actor
    if content.status == Content.Status.APPROVED and body_changed:
        _submit(content, actor=actor)
    content.save()
    return content


def _submit(content: Content, *, actor) -> ContentVersion:
    clean, used = rules.submission_check(
        text=content.text, attachments=content.attachments, rules=banned_phrase_rules()
    )
    last = content.versions.aggregate(n=Max("number"))["n"] or 0
    version = ContentVersion.objects.create(
        content=content,
        number=last + 1,
        title=content.title,
        text=content.text,
        attachments=clean,
        variables=used,
        edited_by=content.updated_by,
        submitted_by=actor,
    )
    content.attachments = clean
    content.pending_version = version
    content.status = Content.Status.PENDING
    return version


@transaction.atomic
def content_submit(*, actor, content_id: int) -> ContentVersion:
    """Freeze the working copy as a new version and put it in the review queue."""
    _require_editor(actor)
    content = _locked(content_id)
    if content.status == Content.Status.PENDING:
        raise DomainError("content_pending_review", _("内容已在审核中"), status=409)
    if content.status == Content.Status.APPROVED:
        raise DomainError("content_already_approved", _("内容已通过审核，无需再次提交"), status=409)
    version = _submit(content, actor=actor)
    content.updated_by = actor
    content.save()
    return version


def _pending(content: Content) -> ContentVersion:
    if content.status != Content.Status.PENDING or content.pending_version_id is None:
        raise DomainError("content_not_pending", _("该内容没有待审核的版本"), status=409)
    return content.pending_version


@transaction.atomic
def content_approve(
    *, actor, content_id: int, comment: str = "", version_number: int | None = None
) -> ContentReview:
    """Approve the pending version; it becomes the one that is sent.

    ``version_number`` (optional) guards against approving something other
    than what the reviewer looked at.
    """
    _require_reviewer(actor)
    content = _locked(content_id)
    version = _pending(content)
    if version_number is not None and version.number != version_number:
        raise DomainError(
            "version_superseded", _("该版本已不是待审核版本，请刷新后再审核"), status=409
        )
    if actor.pk in (version.submitted_by_id, version.edited_by_id):
        raise DomainError(
            "four_eyes", _("不能审核通过自己提交或修改的内容（双人复核）"), status=403
        )
    # The list may have grown since submission: approval re-checks the phrases.
    rules.phrases_check(version.text, version.attachments, banned_phrase_rules())
    review = ContentReview.objects.create(
        version=version,
        content=content,
        decision=ContentReview.Decision.APPROVED,
        reviewer=actor,
        comment=(comment or "").strip(),
    )
    content.approved_version = version
    content.pending_version = None
    content.status = Content.Status.APPROVED
    content.save(update_fields=["approved_version", "pending_version", "status", "updated_at"])
    return review


@transaction.atomic
def content_reject(
    *, actor, content_id: int, comment: str, version_number: int | None = None
) -> ContentReview:
    """Send the pending version back to ops with the reason; they may edit and resubmit."""
    _require_reviewer(actor)
    comment = (comment or "").strip()
    if not comment:
        raise DomainError("comment_required", _("驳回时请填写审核意见"))
    content = _locked(content_id)
    version = _pending(content)
    if version_number is not None and version.number != version_number:
        raise DomainError(
            "version_superseded", _("该版本已不是待审核版本，请刷新后再审核"), status=409
        )
    review = ContentReview.objects.create(
        version=version,
        content=content,
        decision=ContentReview.Decision.REJECTED,
        reviewer=actor,
        comment=comment,
    )
    content.pending_version = None
    content.status = Content.Status.REJECTED
    content.save(update_fields=["pending_version", "status", "updated_at"])
    return review


def content_message_build(
    *,
    version: ContentVersion,
    variables: Mapping[str, str] | None = None,
    customer_id: int | None = None,
    group_id: int | None = None,
) -> dict:
    """The WeCom ``text`` + ``attachments`` payload of an approved version.

    Get the version from ``selectors.content_get_approved``; a version that was
    never approved is refused here as well. With the recipient named (``customer_id``
    or ``group_id``), each ``link`` attachment's URL is offered to ``link_tracked``
    (a tracked per-recipient link may replace it).
    """
    approved = ContentReview.objects.filter(
        version_id=version.pk, decision=ContentReview.Decision.APPROVED
    ).exists()
    if not approved:
        raise DomainError("content_not_approved", _("内容未通过合规审核，不能发送"), status=409)
    payload = rules.message_payload_build(
        text=version.text, attachments=version.attachments, variables=variables
    )
    if customer_id or group_id:
        for item in payload["attachments"]:
            if item["msgtype"] != "link" or not item["link"].get("url"):
                continue
            body = item["link"]
            for url in hooks.link_tracked.call(
                url=body["url"],
                title=body.get("title", ""),
                content_id=version.content_id,
                customer_id=customer_id,
                group_id=group_id,
            ):
                if url:
                    body["url"] = url
                    break
    return payload
