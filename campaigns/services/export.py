"""Exports of a campaign's claims (CSV or XLSX), audited like every export (D14)."""

from __future__ import annotations

import csv
import io

from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.core.audit import audit_record
from scrm.core.errors import DomainError
from scrm.core.models import AuditEvent

from ..models import Campaign, Redemption
from ..money import fen_display
from ..selectors import campaign_claims_for_export
from .lifecycle import _require_editor

FORMATS = ("csv", "xlsx")


def _rows(campaign: Campaign):
    standing = dict(
        Redemption.objects.filter(
            coupon__campaign=campaign, status=Redemption.Status.REDEEMED
        ).values_list("coupon_id", "discount_fen")
    )
    yield [
        _("券码"),
        _("模板"),
        _("A/B 方案"),
        _("客户"),
        _("客户昵称"),
        _("来源"),
        _("状态"),
        _("领取时间"),
        _("失效时间"),
        _("核销时间"),
        _("优惠金额（元）"),
    ]
    tz = timezone.get_current_timezone()
    for coupon in campaign_claims_for_export(campaign):
        yield [
            coupon.code,
            coupon.template.title,
            coupon.variant.key if coupon.variant_id else "",
            coupon.customer.external_userid,
            coupon.customer.name,
            coupon.get_source_display(),
            coupon.get_status_display(),
            coupon.claimed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            coupon.valid_until.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            coupon.redeemed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            if coupon.redeemed_at
            else "",
            fen_display(standing[coupon.pk]) if coupon.pk in standing else "",
        ]


def campaign_claims_export(*, actor, campaign_id: int, fmt: str, request=None) -> tuple[str, bytes]:
    """(file name, content) of the campaign's claims; the export is audited."""
    _require_editor(actor)
    if fmt not in FORMATS:
        raise DomainError("invalid", _("导出格式须为 csv 或 xlsx"))
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise DomainError("not_found", _("活动不存在"), status=404)
    rows = list(_rows(campaign))
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        content = ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel reads it as UTF-8
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("领券记录"))
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        content = buffer.getvalue()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        target=campaign,
        request=request,
        details={"what": "campaign_claims", "format": fmt, "rows": len(rows) - 1},
    )
    name = f"campaign-{campaign.pk}-claims-{timezone.localdate():%Y%m%d}.{fmt}"
    return name, content
