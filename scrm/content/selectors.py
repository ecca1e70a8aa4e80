"""Reads of the content library. Sending code gets content only through
``content_get_approved``: nothing unapproved can reach a customer."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from scrm.core.errors import DomainError
from scrm.core.role_names import OPS_ROLES
from scrm.core.roles import Role, user_has_any_role, user_has_role

from .models import BannedPhrase, Content, ContentReview, ContentVersion

_LIBRARY_ROLES = (*OPS_ROLES, Role.COMPLIANCE_REVIEWER)
_READER_ROLES = (Role.CUSTOMER_MANAGER, Role.BRANCH_MANAGER)


def content_get_approved(*, content_id: int) -> ContentVersion:
    """The version to schedule or send: the last approved one.

    Raises ``DomainError("content_not_approved")`` when the content was never
    approved (drafts, first submissions waiting for review, rejections).
    """
    content = Content.objects.select_related("approved_version").filter(pk=content_id).first()
    if content is None:
        raise DomainError("content_not_found", _("内容不存在"), status=404)
    if content.approved_version is None:
        raise DomainError("content_not_approved", _("内容未通过合规审核，不能发送"), status=409)
    return content.approved_version


def content_sees_working_copy(user) -> bool:
    """Ops and compliance see drafts; managers only ever see approved text."""
    return user_has_any_role(user, *_LIBRARY_ROLES)


def content_list_for(*, user, status: str | None = None) -> QuerySet[Content]:
    """The content a user may read: the whole library for ops and compliance,
    only content with an approved version for managers, nothing for others."""
    qs = Content.objects.select_related("approved_version", "pending_version")
    if content_sees_working_copy(user):
        if status:
            qs = qs.filter(status=status)
        return qs.order_by("-updated_at", "-pk")
    if any(user_has_role(user, role) for role in _READER_ROLES):
        return qs.filter(approved_version__isnull=False).order_by("-updated_at", "-pk")
    return qs.none()


def content_review_queue() -> QuerySet[Content]:
    """What waits for a compliance decision, oldest first."""
    return (
        Content.objects.filter(status=Content.Status.PENDING)
        .select_related("pending_version", "pending_version__submitted_by")
        .order_by("updated_at", "pk")
    )


def content_versions(*, content_id: int) -> QuerySet[ContentVersion]:
    return (
        ContentVersion.objects.filter(content_id=content_id)
        .select_related("submitted_by", "review", "review__reviewer")
        .order_by("-number")
    )


def content_reviews(*, content_id: int) -> QuerySet[ContentReview]:
    return (
        ContentReview.objects.filter(content_id=content_id)
        .select_related("reviewer", "version")
        .order_by("-decided_at", "-pk")
    )


def banned_phrases_active() -> QuerySet[BannedPhrase]:
    return BannedPhrase.objects.filter(is_active=True).order_by("phrase")
