"""The one access rule: how much of the bank's customers, groups and tasks a person sees (D14).

- Ops (ops admins, ops staff) and superusers see everything.
- A branch manager sees what belongs to the staff of their branch (and their own).
- A customer manager sees their own.
- Anyone else, and anyone without a WeCom staff account, sees nothing.

Admin access (``is_staff``) alone widens nothing: a branch manager with admin access
still sees only the branch. Each app applies the scope to its own rows in its
selectors (customers through their active follow relations, groups through their
owner, tasks through their assignee); pages, admin querysets and the API start from
those selectors.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q

from .role_names import MANAGER_ROLES, OPS_ROLES, Role
from .roles import user_has_any_role, user_has_role


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    branch_id: int | None = None  # a branch manager's branch
    staff_id: int | None = None  # the person's own WeCom staff account

    @property
    def nothing(self) -> bool:
        return not self.everything and self.branch_id is None and self.staff_id is None

    def q(self, staff_path: str) -> Q:
        """Rows whose staff member (at ``staff_path``, e.g. "owner" or "staff") is in
        scope. Meaningless for ``everything`` (no filter) and ``nothing`` (no rows):
        check those first, or use :func:`scope_filter`."""
        q = Q(**{f"{staff_path}_id": self.staff_id}) if self.staff_id is not None else Q()
        if self.branch_id is not None:
            q |= Q(**{f"{staff_path}__branch_id": self.branch_id})
        return q


NOTHING = Scope()
EVERYTHING = Scope(everything=True)


def staff_of(user):
    """The person's WeCom staff account, or None (a login without one)."""
    try:
        return user.staff
    except (ObjectDoesNotExist, AttributeError):
        return None


def viewer_scope(user) -> Scope:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return NOTHING
    if user.is_superuser or user_has_any_role(user, *OPS_ROLES):
        return EVERYTHING
    if not user_has_any_role(user, *MANAGER_ROLES):
        return NOTHING
    staff = staff_of(user)
    if staff is None:
        return NOTHING
    if user_has_role(user, Role.BRANCH_MANAGER) and staff.branch_id is not None:
        return Scope(branch_id=staff.branch_id, staff_id=staff.pk)
    return Scope(staff_id=staff.pk)


def scope_filter(queryset, user, *, staff_path: str):
    """``queryset`` narrowed to the rows ``user`` may see, their staff at ``staff_path``."""
    scope = viewer_scope(user)
    if scope.everything:
        return queryset
    if scope.nothing:
        return queryset.none()
    return queryset.filter(scope.q(staff_path))
