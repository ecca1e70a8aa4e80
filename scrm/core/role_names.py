"""The roles people have (importable before Django is set up, e.g. by the dev stack)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OPS_ADMIN = "ops_admin"
    OPS_STAFF = "ops_staff"
    COMPLIANCE_REVIEWER = "compliance_reviewer"
    BRANCH_MANAGER = "branch_manager"
    CUSTOMER_MANAGER = "customer_manager"


# The roles that run the system: they see every customer, group and task (D14).
OPS_ROLES = (Role.OPS_ADMIN, Role.OPS_STAFF)
# The roles that serve customers: they see their own (or their branch's).
MANAGER_ROLES = (Role.BRANCH_MANAGER, Role.CUSTOMER_MANAGER)

ROLE_LABELS = {
    Role.OPS_ADMIN: "运营管理员",
    Role.OPS_STAFF: "运营人员",
    Role.COMPLIANCE_REVIEWER: "合规审核员",
    Role.BRANCH_MANAGER: "支行负责人",
    Role.CUSTOMER_MANAGER: "客户经理",
}
