"""A campaign's life: drafted by ops, approved by compliance, run, paused, ended (D7).

draft → pending (submitted: every customer-facing text passes the banned-phrase check,
the announcement content is approved) → approved (by a compliance reviewer other than
the one who drafted or submitted it) → live ⇄ paused → ended. A rejection sends it
back to draft with the reviewer's comment. Only drafts can be edited, so what runs
is what compliance approved. Every change is a guarded update, logged in
``CampaignStatusChange`` and audited with who and when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.content.selectors import content_get_approved
from scrm.content.services import banned_phrase_check
from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent
from scrm.core.role_names import OPS_ROLES
from scrm.core.roles import Role, user_has_any_role, user_has_role

from .. import hooks
from ..models import Campaign, CampaignStatusChange, CampaignVariant, CouponTemplate
from .claims import campaign_config_forget

S = Campaign.Status

CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "title",
    "rules_text",
    "product_category",
    "starts_at",
    "ends_at",
    "budget_fen",
    "verified_only",
    "per_customer_limit",
    "velocity_ip_per_hour",
    "velocity_phone_per_hour",
    "reversal_window_minutes",
    "announcement",
)
CAMPAIGN_M2M = ("audience_groups", "audience_pools", "audience_regions")
TEMPLATE_FIELDS = (
    "title",
    "description",
    "kind",
    "percent_off",
    "face_value_fen",
    "max_discount_fen",
    "min_spend_fen",
    "instalments",
    "instalment_interval_days",
    "valid_weekdays",
    "valid_time_from",
    "valid_time_until",
    "validity",
    "valid_from_date",
    "valid_until_date",
    "valid_days",
    "total_stock",
    "daily_stock",
    "per_customer_limit",
    "per_phone_limit",
)
TEMPLATE_M2M = ("merchants", "regions")
VARIANT_FIELDS = ("key", "name", "weight", "template", "message")


def user_is_campaign_editor(user) -> bool:
    """Ops draft campaigns and run them."""
    return user_has_any_role(user, *OPS_ROLES)


def user_is_campaign_reviewer(user) -> bool:
    # No superuser shortcut: approval is a named compliance duty (as for content).
    return user_has_role(user, Role.COMPLIANCE_REVIEWER)


def _require_editor(user) -> None:
    if not user_is_campaign_editor(user):
        raise DomainError("forbidden", _("只有运营人员可以编辑或运行活动"), status=403)


def _require_reviewer(user) -> None:
    if not user_is_campaign_reviewer(user):
        raise DomainError("forbidden", _("只有合规审核员可以审核活动"), status=403)


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("invalid", message, data={"field": field})


# --------------------------------------------------------------------------- validation


def campaign_validate(data: Mapping[str, Any]) -> None:
    if not (data.get("name") or "").strip():
        raise _invalid("name", _("请填写活动名称"))
    if not (data.get("title") or "").strip():
        raise _invalid("title", _("请填写活动标题"))
    starts, ends = data.get("starts_at"), data.get("ends_at")
    if not isinstance(starts, datetime) or not isinstance(ends, datetime) or ends <= starts:
        raise _invalid("ends_at", _("结束时间必须晚于开始时间"))
    for name in ("per_customer_limit", "velocity_ip_per_hour", "velocity_phone_per_hour"):
        value = data.get(name)
        if value is not None and value < 1:
            raise _invalid(name, _("限领次数至少为 1，不限请留空"))


def template_validate(data: Mapping[str, Any]) -> None:
    kind = data.get("kind")
    if not (data.get("title") or "").strip():
        raise _invalid("title", _("请填写券名称"))
    if kind == CouponTemplate.Kind.PERCENT_OFF:
        percent = data.get("percent_off")
        if percent is None or not 1 <= percent <= 99:
            raise _invalid("percent_off", _("折扣券的减免比例须在 1 到 99 之间"))
        if not data.get("max_discount_fen"):
            raise _invalid("max_discount_fen", _("折扣券须填写最高优惠金额（用于控制预算）"))
    elif kind in CouponTemplate.Kind.values:
        if not data.get("face_value_fen"):
            raise _invalid("face_value_fen", _("请填写面值"))
    else:
        raise _invalid("kind", _("请选择券类型"))
    instalments = data.get("instalments") or 1
    if instalments > 1 and kind != CouponTemplate.Kind.INSTALMENT:
        raise _invalid("instalments", _("只有分期礼金可以分多期发放"))
    if instalments > 1 and not data.get("instalment_interval_days"):
        raise _invalid("instalment_interval_days", _("请填写每期间隔天数"))
    if data.get("validity") == CouponTemplate.Validity.FIXED:
        start, end = data.get("valid_from_date"), data.get("valid_until_date")
        if end is None or (start is not None and end < start):
            raise _invalid("valid_until_date", _("请填写有效期，结束日不能早于开始日"))
    elif not data.get("valid_days"):
        raise _invalid("valid_days", _("请填写领取后有效天数"))
    weekdays = data.get("valid_weekdays") or []
    if any(day not in range(1, 8) for day in weekdays):
        raise _invalid("valid_weekdays", _("可用星期须为 1（周一）到 7（周日）"))
    t_from, t_until = data.get("valid_time_from"), data.get("valid_time_until")
    if (t_from is None) != (t_until is None) or (
        isinstance(t_from, time) and isinstance(t_until, time) and t_until <= t_from
    ):
        raise _invalid("valid_time_until", _("每日可用时段须同时填写开始和结束，且结束晚于开始"))
    if not data.get("total_stock"):
        raise _invalid("total_stock", _("总库存至少为 1"))
    daily = data.get("daily_stock")
    if daily is not None and daily < 1:
        raise _invalid("daily_stock", _("每日库存至少为 1，不限请留空"))
    for name in ("per_customer_limit", "per_phone_limit"):
        value = data.get(name)
        if value is not None and value < 1:
            raise _invalid(name, _("限领次数至少为 1，不限请留空"))


# --------------------------------------------------------------------------- drafts


def _locked(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        raise DomainError("not_found", _("活动不存在"), status=404)
    return campaign


def _require_draft(campaign: Campaign) -> None:
    if campaign.status != S.DRAFT:
        raise DomainError(
            "campaign_not_editable",
            _("只有草稿状态的活动可以修改，已提交的内容以审核为准"),
            status=409,
        )


def _assign(instance, data: Mapping[str, Any], fields: Iterable[str]) -> None:
    for name in fields:
        if name in data:
            setattr(instance, name, data[name])


def _set_m2m(instance, data: Mapping[str, Any], fields: Iterable[str]) -> None:
    for name in fields:
        if name in data:
            getattr(instance, name).set(data[name] or [])


@transaction.atomic
def campaign_create(*, actor, data: Mapping[str, Any]) -> Campaign:
    _require_editor(actor)
    campaign = Campaign(created_by=actor, status=S.DRAFT)
    _assign(campaign, data, CAMPAIGN_FIELDS)
    campaign_validate({f: getattr(campaign, f) for f in CAMPAIGN_FIELDS})
    campaign.save()
    _set_m2m(campaign, data, CAMPAIGN_M2M)
    return campaign


@transaction.atomic
def campaign_update(*, actor, campaign_id: int, data: Mapping[str, Any]) -> Campaign:
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_draft(campaign)
    _assign(campaign, data, CAMPAIGN_FIELDS)
    campaign_validate({f: getattr(campaign, f) for f in CAMPAIGN_FIELDS})
    campaign.save()
    _set_m2m(campaign, data, CAMPAIGN_M2M)
    return campaign


@transaction.atomic
def template_create(*, actor, campaign_id: int, data: Mapping[str, Any]) -> CouponTemplate:
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_draft(campaign)
    template = CouponTemplate(campaign=campaign)
    _assign(template, data, TEMPLATE_FIELDS)
    template_validate({f: getattr(template, f) for f in TEMPLATE_FIELDS})
    template.stock_remaining = template.total_stock
    template.save()
    _set_m2m(template, data, TEMPLATE_M2M)
    return template


@transaction.atomic
def template_update(*, actor, template_id: int, data: Mapping[str, Any]) -> CouponTemplate:
    _require_editor(actor)
    template = CouponTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise DomainError("not_found", _("优惠券模板不存在"), status=404)
    _require_draft(_locked(template.campaign_id))
    template = CouponTemplate.objects.select_for_update().get(pk=template_id)
    _assign(template, data, TEMPLATE_FIELDS)
    template_validate({f: getattr(template, f) for f in TEMPLATE_FIELDS})
    template.stock_remaining = template.total_stock  # a draft has no claims yet
    template.save()
    _set_m2m(template, data, TEMPLATE_M2M)
    return template


@transaction.atomic
def variant_save(
    *, actor, campaign_id: int, data: Mapping[str, Any], variant_id: int | None = None
) -> CampaignVariant:
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_draft(campaign)
    variant = (
        CampaignVariant(campaign=campaign)
        if variant_id is None
        else CampaignVariant.objects.get(pk=variant_id, campaign=campaign)
    )
    _assign(variant, data, VARIANT_FIELDS)
    variant.key = (variant.key or "").strip().upper()
    if not variant.key:
        raise _invalid("key", _("请填写方案编号，例如 A、B"))
    if variant.template_id is not None and variant.template.campaign_id != campaign.pk:
        raise _invalid("template", _("方案只能使用本活动的优惠券模板"))
    variant.save()
    return variant


@transaction.atomic
def variant_delete(*, actor, variant_id: int) -> None:
    _require_editor(actor)
    variant = CampaignVariant.objects.get(pk=variant_id)
    _require_draft(_locked(variant.campaign_id))
    variant.delete()


# --------------------------------------------------------------------------- review


def campaign_customer_texts(campaign: Campaign) -> list[tuple[str, str]]:
    """Every text of the campaign a customer sees, with where it is shown."""
    texts = [(_("活动标题"), campaign.title), (_("活动规则"), campaign.rules_text)]
    for template in campaign.templates.order_by("pk"):
        texts.append((_("券名称「%(t)s」") % {"t": template.title}, template.title))
        texts.append((_("「%(t)s」的使用说明") % {"t": template.title}, template.description))
    for variant in campaign.variants.order_by("key"):
        texts.append((_("方案 %(k)s 的激励文案") % {"k": variant.key}, variant.message))
    for more in hooks.review_texts.call(campaign=campaign):
        texts.extend(more)
    return [(where, text) for where, text in texts if text]


def campaign_banned_phrases(campaign: Campaign) -> list[dict]:
    hits = []
    for where, text in campaign_customer_texts(campaign):
        for hit in banned_phrase_check(text=text):
            hits.append({"where": where, **hit.as_dict()})
    return hits


def _review_checks(campaign: Campaign) -> None:
    """What must hold before compliance sees it, and again when they approve it."""
    templates = list(campaign.templates.all())
    if not templates and campaign.kind == Campaign.Kind.COUPON:
        raise DomainError("no_templates", _("活动还没有优惠券模板"), status=409)
    campaign_validate({f: getattr(campaign, f) for f in CAMPAIGN_FIELDS})
    for template in templates:
        template_validate({f: getattr(template, f) for f in TEMPLATE_FIELDS})
    if campaign.announcement_id is not None:
        content_get_approved(content_id=campaign.announcement_id)
    hooks.review_checks.call(campaign=campaign)
    hits = campaign_banned_phrases(campaign)
    if hits:
        found = "、".join(sorted({f"「{h['phrase']}」（{h['where']}）" for h in hits}))
        raise DomainError(
            "banned_phrase",
            _("含有金融营销禁用词：%(found)s") % {"found": found},
            status=422,
            data={"phrases": hits},
        )


def _transition(
    *,
    campaign: Campaign,
    to: str,
    actor,
    comment: str = "",
    request=None,
    **updates: Any,
) -> Campaign:
    before = campaign.status
    changed = Campaign.objects.filter(pk=campaign.pk, status=before).update(
        status=to, updated_at=timezone.now(), **updates
    )
    if changed != 1:  # never under the row lock we hold; a belt to the braces
        raise DomainError("campaign_status_changed", _("活动状态已变化，请刷新"), status=409)
    CampaignStatusChange.objects.create(
        campaign=campaign, from_status=before, to_status=to, actor=actor, comment=comment
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=campaign,
        request=request,
        details={"status_from": before, "status_to": to, "comment": comment[:500]},
    )
    transaction.on_commit(lambda: campaign_config_forget(campaign.pk))
    campaign.refresh_from_db()
    return campaign


def _require_status(campaign: Campaign, *allowed: str) -> None:
    if campaign.status not in allowed:
        raise DomainError(
            "invalid_transition",
            _("活动当前为「%(s)s」，不能进行该操作") % {"s": campaign.get_status_display()},
            status=409,
        )


@transaction.atomic
def campaign_submit(*, actor, campaign_id: int, request=None) -> Campaign:
    """Ops send the draft to compliance review."""
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_status(campaign, S.DRAFT)
    _review_checks(campaign)
    return _transition(
        campaign=campaign, to=S.PENDING, actor=actor, request=request, submitted_by=actor
    )


@transaction.atomic
def campaign_approve(*, actor, campaign_id: int, comment: str = "", request=None) -> Campaign:
    _require_reviewer(actor)
    campaign = _locked(campaign_id)
    _require_status(campaign, S.PENDING)
    if actor.pk in (campaign.submitted_by_id, campaign.created_by_id):
        raise DomainError(
            "four_eyes", _("不能审核通过自己创建或提交的活动（双人复核）"), status=403
        )
    # The banned-phrase list may have grown since the submission.
    _review_checks(campaign)
    comment = (comment or "").strip()
    return _transition(
        campaign=campaign,
        to=S.APPROVED,
        actor=actor,
        comment=comment,
        request=request,
        review_comment=comment,
    )


@transaction.atomic
def campaign_reject(*, actor, campaign_id: int, comment: str, request=None) -> Campaign:
    _require_reviewer(actor)
    comment = (comment or "").strip()
    if not comment:
        raise DomainError("comment_required", _("驳回时请填写审核意见"))
    campaign = _locked(campaign_id)
    _require_status(campaign, S.PENDING)
    return _transition(
        campaign=campaign,
        to=S.DRAFT,
        actor=actor,
        comment=comment,
        request=request,
        review_comment=comment,
    )


@transaction.atomic
def campaign_go_live(*, actor, campaign_id: int, request=None) -> Campaign:
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_status(campaign, S.APPROVED)
    if campaign.ends_at <= timezone.now():
        raise DomainError("campaign_over", _("活动结束时间已过，不能上线"), status=409)
    return _transition(campaign=campaign, to=S.LIVE, actor=actor, request=request)


@transaction.atomic
def campaign_pause(*, actor, campaign_id: int, comment: str = "", request=None) -> Campaign:
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_status(campaign, S.LIVE)
    return _transition(
        campaign=campaign, to=S.PAUSED, actor=actor, comment=comment, request=request
    )


@transaction.atomic
def campaign_resume(*, actor, campaign_id: int, request=None) -> Campaign:
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_status(campaign, S.PAUSED)
    return _transition(campaign=campaign, to=S.LIVE, actor=actor, request=request)


@transaction.atomic
def campaign_end(*, actor, campaign_id: int, comment: str = "", request=None) -> Campaign:
    _require_editor(actor)
    campaign = _locked(campaign_id)
    _require_status(campaign, S.APPROVED, S.LIVE, S.PAUSED)
    return _transition(campaign=campaign, to=S.ENDED, actor=actor, comment=comment, request=request)


def campaigns_end_due(*, now: datetime | None = None) -> int:
    """Campaigns past their end time are ended (by the system, audited as such)."""
    now = now or timezone.now()
    ended = 0
    due = Campaign.objects.filter(
        status__in=[S.APPROVED, S.LIVE, S.PAUSED], ends_at__lte=now
    ).values_list("pk", flat=True)
    for campaign_id in list(due):
        with transaction.atomic():
            campaign = _locked(campaign_id)
            if campaign.status in (S.APPROVED, S.LIVE, S.PAUSED) and campaign.ends_at <= now:
                _transition(
                    campaign=campaign, to=S.ENDED, actor=None, comment=_("活动到期自动结束")
                )
                ended += 1
    return ended
