"""The staff directory and handing customers over (D1, D11).

The directory is mirrored from WeCom (member, name, department as branch,
status) and linked to login accounts. A member who leaves keeps their history;
their customers can be handed to a successor through WeCom's transfer APIs
(离职继承 for departed members, 在职继承 for serving ones). WeCom lets each
customer be transferred at most twice in 90 days (40128) and a serving
member's customer may refuse; every request and its result is a
``CustomerTransfer`` row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.core.errors import DomainError
from scrm.wecom.values import wecom_time

from .models import Branch, Customer, CustomerTransfer, FollowRelation, Staff
from .services import follow_relation_end, staff_mark_left, timeline_add

logger = logging.getLogger(__name__)

TRANSFER_LIMIT_ERRCODE = 40128
OPEN = (CustomerTransfer.Status.REQUESTED, CustomerTransfer.Status.WAITING)
# transfer_result status → ours
RESULT_STATUS = {
    1: CustomerTransfer.Status.SUCCEEDED,
    2: CustomerTransfer.Status.WAITING,
    3: CustomerTransfer.Status.REFUSED,
    4: CustomerTransfer.Status.LIMIT,
}


# --------------------------------------------------------------------------- directory


@dataclass
class DirectoryReport:
    created: int = 0
    updated: int = 0
    left: int = 0
    seen: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "left": self.left}


def _branch_for_department(department_id: int) -> Branch:
    branch = Branch.objects.filter(wecom_department_id=department_id).first()
    if branch is None:
        branch, _created = Branch.objects.get_or_create(
            code=f"wecom-{department_id}",
            defaults={"name": f"部门{department_id}", "wecom_department_id": department_id},
        )
    return branch


def staff_directory_sync() -> DirectoryReport:
    """Mirror members with customer-contact rights from WeCom (``user/get`` each).

    A member WeCom no longer knows (60111) is marked left; their relations and
    history stay. Branch names set by ops are never overwritten.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComPermanentError

    report = DirectoryReport()
    for userid in wecom.follow_users():
        try:
            user = wecom.user_get(userid)
        except WeComPermanentError as exc:
            logger.info("member not readable", extra={"errcode": exc.errcode})
            continue
        report.seen.add(userid)
        departments = [int(d) for d in user.get("department") or [] if str(d).isdigit()]
        with transaction.atomic():
            staff, created = Staff.objects.select_for_update().get_or_create(
                userid=userid,
                defaults={"name": user.get("name") or userid, "position": user.get("position", "")},
            )
            values = {
                "name": (user.get("name") or userid)[:64],
                "position": (user.get("position") or "")[:64],
                "is_follow_user": True,
            }
            if departments:
                values["branch"] = _branch_for_department(departments[0])
            if staff.status == Staff.Status.LEFT:
                values["status"], values["left_at"] = Staff.Status.ACTIVE, None
            changed = [k for k, v in values.items() if getattr(staff, k) != v]
            for k in changed:
                setattr(staff, k, values[k])
            if changed:
                staff.save(update_fields=[*changed, "updated_at"])
        report.created += int(created)
        report.updated += int(bool(changed) and not created)
    for staff in Staff.objects.filter(status=Staff.Status.ACTIVE).exclude(userid__in=report.seen):
        try:
            wecom.user_get(staff.userid)
        except WeComPermanentError as exc:
            if exc.errcode in (60111, 40003):
                staff_mark_left(userid=staff.userid)
                report.left += 1
            continue
        Staff.objects.filter(pk=staff.pk).update(is_follow_user=False)
    return report


@transaction.atomic
def staff_user_link(*, staff_id: int, user_id: int | None) -> Staff:
    """Link a member to a login account (or unlink with ``None``)."""
    staff = Staff.objects.select_for_update().get(pk=staff_id)
    if user_id is not None:
        taken = Staff.objects.filter(user_id=user_id).exclude(pk=staff.pk).first()
        if taken is not None:
            raise DomainError(
                "staff_user_taken", _("该登录账号已关联员工 %(name)s") % {"name": taken.name}
            )
    staff.user_id = user_id
    staff.save(update_fields=["user", "updated_at"])
    return staff


def staff_login_from_oauth(*, code: str):
    """The login account of the manager WeCom's OAuth ``code`` names (created on first login)."""
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError

    try:
        info = wecom.oauth_userinfo(code)
    except WeComError as exc:
        raise DomainError("oauth_failed", _("企业微信登录失败，请重试")) from exc
    userid = info.get("userid") or ""
    if not userid:
        raise DomainError("oauth_not_member", _("仅限本行员工登录"), status=403)
    with transaction.atomic():
        staff = Staff.objects.select_for_update().filter(userid=userid).first()
        if staff is None or staff.status != Staff.Status.ACTIVE:
            raise DomainError("oauth_not_member", _("员工不存在或已离职"), status=403)
        if staff.user_id is None:
            user_model = get_user_model()
            user, _created = user_model.objects.get_or_create(
                username=f"wecom_{userid}"[:150], defaults={"first_name": staff.name[:150]}
            )
            if _created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            staff_user_link(staff_id=staff.pk, user_id=user.pk)
            staff.refresh_from_db()
        if not staff.user.is_active:
            raise DomainError("oauth_inactive", _("登录账号已停用"), status=403)
        return staff.user


# --------------------------------------------------------------------------- transfers


def customers_hand_over(
    *,
    from_staff_id: int,
    to_staff_id: int,
    customer_ids: list[int] | None = None,
    requested_by=None,
    message: str = "",
) -> list[CustomerTransfer]:
    """Hand a member's customers (all, or ``customer_ids``) to a successor in WeCom.

    Departed members go through 离职继承, serving ones through 在职继承 (the
    customer may refuse). Customers WeCom turns down (40128: transferred twice
    in 90 days) are recorded as failed; the others wait for ``transfer_result``.
    """
    from scrm.wecom.adapter import wecom
    from scrm.wecom.errors import WeComError

    from_staff = Staff.objects.get(pk=from_staff_id)
    to_staff = Staff.objects.get(pk=to_staff_id)
    if from_staff.pk == to_staff.pk:
        raise DomainError("transfer_same_staff", _("接替人不能是原跟进人"))
    if to_staff.status != Staff.Status.ACTIVE:
        raise DomainError("transfer_successor_inactive", _("接替人已离职或被禁用"))
    relations = FollowRelation.objects.filter(
        staff=from_staff, status=FollowRelation.Status.ACTIVE
    ).select_related("customer")
    if customer_ids is not None:
        relations = relations.filter(customer_id__in=customer_ids)
    open_ids = set(
        CustomerTransfer.objects.filter(from_staff=from_staff, status__in=OPEN).values_list(
            "customer_id", flat=True
        )
    )
    customers = [r.customer for r in relations if r.customer_id not in open_ids]
    if not customers:
        raise DomainError("transfer_nothing", _("没有可转接的客户"))
    resigned = from_staff.status == Staff.Status.LEFT
    try:
        outcome = wecom.customers_transfer(
            handover_userid=from_staff.userid,
            takeover_userid=to_staff.userid,
            external_userids=[c.external_userid for c in customers],
            resigned=resigned,
            message=message,
        )
    except WeComError as exc:
        raise DomainError(
            "transfer_failed",
            _("企业微信拒绝了转接（错误码 %(code)s）：%(msg)s")
            % {"code": exc.errcode, "msg": exc.errmsg.split(",")[0][:80]},
        ) from exc
    now = timezone.now()
    rows = []
    with transaction.atomic():
        for customer in customers:
            errcode = outcome.get(customer.external_userid)
            if errcode == 0:
                status, detail = CustomerTransfer.Status.WAITING, ""
            elif errcode == TRANSFER_LIMIT_ERRCODE:
                status, detail = CustomerTransfer.Status.FAILED, "该客户90天内已被转接两次"
            else:
                status, detail = CustomerTransfer.Status.FAILED, "企业微信未受理"
            rows.append(
                CustomerTransfer(
                    customer=customer,
                    from_staff=from_staff,
                    to_staff=to_staff,
                    status=status,
                    errcode=errcode or None,
                    detail=detail,
                    requested_by=requested_by,
                    finished_at=None if status == CustomerTransfer.Status.WAITING else now,
                )
            )
        CustomerTransfer.objects.bulk_create(rows)
        for row in rows:
            timeline_add(
                customer=row.customer,
                kind="transfer_requested",
                staff=from_staff,
                summary=f"转接给{to_staff.name}："
                + ("等待接替" if row.status == CustomerTransfer.Status.WAITING else row.detail),
                data={"to": to_staff.userid, "errcode": row.errcode, "resigned": resigned},
            )
    return rows


def transfer_results_sync(*, from_staff_id: int, to_staff_id: int) -> dict[str, int]:
    """Read ``transfer_result`` for one (handover, takeover) pair and settle waiting rows."""
    from scrm.wecom.adapter import wecom

    from_staff = Staff.objects.get(pk=from_staff_id)
    to_staff = Staff.objects.get(pk=to_staff_id)
    results = {
        r["external_userid"]: r
        for r in wecom.transfer_results(
            handover_userid=from_staff.userid,
            takeover_userid=to_staff.userid,
            resigned=from_staff.status == Staff.Status.LEFT,
        )
    }
    counts: dict[str, int] = {}
    waiting = CustomerTransfer.objects.filter(
        from_staff=from_staff, to_staff=to_staff, status__in=OPEN
    ).select_related("customer")
    for row in waiting:
        result = results.get(row.customer.external_userid)
        if result is None:
            continue
        status = RESULT_STATUS.get(int(result.get("status") or 0))
        if status is None or status == CustomerTransfer.Status.WAITING:
            continue
        at = timezone.now()
        if result.get("takeover_time"):
            at = wecom_time(result["takeover_time"]) or at
        if customer_transfer_settle(transfer_id=row.pk, status=status, at=at):
            counts[status] = counts.get(status, 0) + 1
    return counts


@transaction.atomic
def customer_transfer_settle(
    *, transfer_id: int, status: str, at=None, errcode: int | None = None, detail: str = ""
) -> bool:
    """Record a transfer's outcome once; a success moves the relation to the successor."""
    row = (
        CustomerTransfer.objects.select_for_update()
        .select_related("customer", "from_staff", "to_staff")
        .filter(pk=transfer_id, status__in=OPEN)
        .first()
    )
    if row is None:
        return False
    row.status = status
    row.finished_at = at or timezone.now()
    if errcode is not None:
        row.errcode = errcode
    if detail:
        row.detail = detail[:255]
    row.save(update_fields=["status", "finished_at", "errcode", "detail"])
    if status == CustomerTransfer.Status.SUCCEEDED:
        old = follow_relation_end(
            external_userid=row.customer.external_userid,
            userid=row.from_staff.userid,
            status=FollowRelation.Status.TRANSFERRED,
            at=row.finished_at,
        )
        relation, created = FollowRelation.objects.get_or_create(
            customer=row.customer,
            staff=row.to_staff,
            defaults={
                "state": old.state if old else "",
                "add_way": 202,
                "added_at": row.finished_at,
            },
        )
        if not created and relation.status != FollowRelation.Status.ACTIVE:
            relation.status, relation.removed_at = FollowRelation.Status.ACTIVE, None
            relation.save(update_fields=["status", "removed_at", "updated_at"])
        Customer.objects.filter(pk=row.customer_id, status=Customer.Status.LOST).update(
            status=Customer.Status.ACTIVE
        )
    summary = {
        CustomerTransfer.Status.SUCCEEDED: f"已由{row.to_staff.name}接替",
        CustomerTransfer.Status.REFUSED: f"客户拒绝由{row.to_staff.name}接替",
        CustomerTransfer.Status.LIMIT: f"{row.to_staff.name}的客户数已达上限，接替失败",
    }.get(status, f"转接失败：{row.detail}")
    timeline_add(
        customer=row.customer,
        kind="transfer_result",
        staff=row.to_staff,
        summary=summary,
        data={"transfer_id": row.pk, "status": status},
        dedupe_key=f"transfer_result:{row.pk}",
    )
    return True


def transfer_failed_from_wecom(
    *, external_userid: str, userid: str, reason: str, at=None
) -> CustomerTransfer | None:
    """``transfer_fail`` callback: the open transfer of this customer involving ``userid``."""
    status = {
        "customer_refused": CustomerTransfer.Status.REFUSED,
        "customer_limit_exceed": CustomerTransfer.Status.LIMIT,
    }.get(reason, CustomerTransfer.Status.FAILED)
    row = (
        CustomerTransfer.objects.filter(customer__external_userid=external_userid, status__in=OPEN)
        .filter(to_staff__userid=userid)
        .order_by("-requested_at")
        .first()
    ) or (
        CustomerTransfer.objects.filter(customer__external_userid=external_userid, status__in=OPEN)
        .filter(from_staff__userid=userid)
        .order_by("-requested_at")
        .first()
    )
    if row is None:
        return None
    customer_transfer_settle(transfer_id=row.pk, status=status, at=at, detail=reason)
    row.refresh_from_db()
    return row


def transfers_open_pairs() -> list[tuple[int, int]]:
    """(from, to) staff pairs with transfers still waiting: what the poller asks about."""
    return list(
        CustomerTransfer.objects.filter(status__in=OPEN)
        .values_list("from_staff_id", "to_staff_id")
        .distinct()
    )
