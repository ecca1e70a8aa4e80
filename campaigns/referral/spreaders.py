"""Key spreaders (关键传播者, D8): inviters ranked by the successful invites they brought
directly and through their invitees, and by the value of those customers; the top ones
carry a corp tag (pushed to WeCom, so managers see it) and form a saved segment.

Value counts what the bank holds of each customer brought in (D1): the ring (inner 3,
middle 2, outer 1) plus the AUM bracket of their bank record (1, 2, 4, 8 from the
lowest bracket up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import BankRecord, Customer
from scrm.core.db import reads_from_reports, reports_connection
from scrm.core.errors import DomainError
from tagging.models import CustomerTag, Tag, TagGroup
from tagging.services import (
    TagDraft,
    customer_tag_add,
    customer_tags_remove,
    tag_group_push,
    tag_group_save,
)

from .models import Invitation, Segment, SegmentMember

TAG_GROUP = "老带新"
TAG_NAME = "关键传播者"
SEGMENT_NAME = "关键传播者"
MAX_LEVELS = 20  # a chain is never longer; it also bounds the walk
ORDERS = {
    "total": "direct + indirect DESC, value DESC",
    "direct": "direct DESC, indirect DESC, value DESC",
    "value": "value DESC, direct + indirect DESC",
}


@dataclass(frozen=True)
class SpreaderRow:
    customer_id: int
    direct: int
    indirect: int
    value: int
    customer: Customer | None = None

    @property
    def total(self) -> int:
        return self.direct + self.indirect


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@reads_from_reports
def spreaders_rank(
    *, program_ids: list[int] | None = None, order: str = "total", limit: int = 100
) -> list[SpreaderRow]:
    """Inviters by successful invites, direct (level 1) and indirect (levels below), and
    the value of all those customers; one recursive query over the invite chain."""
    if order not in ORDERS:
        raise DomainError("invalid", _("排序方式不正确"), data={"field": "order"})
    only = "AND program_id = ANY(%(programs)s)" if program_ids is not None else ""
    sql = f"""
WITH RECURSIVE edges AS (
    SELECT program_id, inviter_id, invitee_id FROM {_t(Invitation)}
    WHERE status = 'succeeded' {only}
), tree(program_id, root_id, invitee_id, level) AS (
    SELECT program_id, inviter_id, invitee_id, 1 FROM edges
    UNION ALL
    SELECT t.program_id, t.root_id, e.invitee_id, t.level + 1
    FROM tree t JOIN edges e ON e.program_id = t.program_id AND e.inviter_id = t.invitee_id
    WHERE t.level < %(levels)s
)
SELECT root_id, direct, indirect, value FROM (
SELECT t.root_id,
    COUNT(*) FILTER (WHERE t.level = 1) AS direct,
    COUNT(*) FILTER (WHERE t.level > 1) AS indirect,
    COALESCE(SUM(
        CASE c.ring WHEN 'inner' THEN 3 WHEN 'middle' THEN 2 WHEN 'outer' THEN 1 ELSE 0 END
        + CASE b.aum_bracket WHEN 'lt50k' THEN 1 WHEN '50k_500k' THEN 2
              WHEN '500k_6m' THEN 4 WHEN 'gte6m' THEN 8 ELSE 0 END
    ), 0) AS value
FROM tree t
JOIN {_t(Customer)} c ON c.id = t.invitee_id
LEFT JOIN {_t(BankRecord)} b ON b.id = c.bank_record_id
GROUP BY t.root_id
) ranked
ORDER BY {ORDERS[order]}, root_id
LIMIT %(limit)s
"""  # noqa: S608 - table names from the models' metadata, the order from a fixed table
    params = {"programs": program_ids or [], "levels": MAX_LEVELS, "limit": limit}
    with reports_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    customers = Customer.objects.in_bulk([r[0] for r in rows])
    return [
        SpreaderRow(
            customer_id=r[0],
            direct=r[1],
            indirect=r[2],
            value=int(r[3]),
            customer=customers.get(r[0]),
        )
        for r in rows
    ]


def spreader_tag_ensure() -> Tag:
    """The corp tag 老带新/关键传播者, made here and in WeCom if missing. Call with no
    transaction open (it may call WeCom)."""
    tag = Tag.objects.filter(
        group__name=TAG_GROUP, group__is_deleted=False, name=TAG_NAME, is_deleted=False
    ).first()
    if tag is None:
        group = TagGroup.objects.filter(name=TAG_GROUP, is_deleted=False).first()
        tag_group_save(group=group or TagGroup(name=TAG_GROUP), tags=[TagDraft(name=TAG_NAME)])
        tag = Tag.objects.get(
            group__name=TAG_GROUP, group__is_deleted=False, name=TAG_NAME, is_deleted=False
        )
    if not tag.wecom_id:
        tag_group_push(group_id=tag.group_id)
        tag.refresh_from_db()
    return tag


@dataclass(frozen=True)
class SpreadersRefresh:
    tagged: int
    untagged: int
    members: int


def key_spreaders_refresh(
    *,
    top: int = 20,
    min_total: int = 1,
    program_ids: list[int] | None = None,
    now: datetime | None = None,
) -> SpreadersRefresh:
    """The top spreaders carry the tag (pushed to WeCom on commit) and are the segment
    "关键传播者"; those who fell out of the top lose both."""
    if top < 1:
        raise DomainError("invalid", _("人数须至少为 1"), data={"field": "top"})
    now = now or timezone.now()
    tag = spreader_tag_ensure()
    ranked = [
        r
        for r in spreaders_rank(program_ids=program_ids, limit=top)
        if r.total >= min_total and r.customer is not None
    ]
    keep = {r.customer_id for r in ranked}
    with transaction.atomic():
        tagged = 0
        for row in ranked:
            _ct, created = customer_tag_add(
                customer=row.customer, tag=tag, source=CustomerTag.Source.CAMPAIGN
            )
            tagged += int(created)
        stale = CustomerTag.objects.filter(tag=tag, source=CustomerTag.Source.CAMPAIGN).exclude(
            customer_id__in=keep
        )
        untagged = customer_tags_remove(rows=stale.select_related("tag"))
        segment, _created = Segment.objects.get_or_create(
            name=SEGMENT_NAME,
            defaults={"description": _("老带新排名靠前的邀请人，由关键传播者报表更新")},
        )
        SegmentMember.objects.filter(segment=segment).exclude(customer_id__in=keep).delete()
        for rank, row in enumerate(ranked, start=1):
            SegmentMember.objects.update_or_create(
                segment=segment, customer_id=row.customer_id, defaults={"rank": rank}
            )
        Segment.objects.filter(pk=segment.pk).update(refreshed_at=now)
    return SpreadersRefresh(tagged=tagged, untagged=untagged, members=len(ranked))
