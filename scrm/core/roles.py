"""Roles are Django auth groups with a fixed set of model permissions.

The groups are (re)synced after every migrate, so a new permission added to a
role below reaches every deployment on its next upgrade.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from .role_names import ROLE_LABELS, Role

__all__ = [
    "ROLE_LABELS",
    "ROLE_PERMISSIONS",
    "Role",
    "roles_sync",
    "user_has_any_role",
    "user_has_role",
    "user_roles",
]

# (app_label, codename prefix or full codename). "*" means every permission of the app.
# Revealing plain-text phones/ID numbers and erasing a customer are ops-admin only (D14);
# the other contacts permissions are listed by kind so these two stay out of ops staff.
_CONTACTS_OPS = [
    ("contacts", "add_"),
    ("contacts", "change_"),
    ("contacts", "delete_"),
    ("contacts", "view_"),
    ("contacts", "export_customers"),
]
_OPS_WRITE = [
    *_CONTACTS_OPS,
    ("groups", "*"),
    ("sop", "*"),  # groups.sop: the SOP calendar and its pushes
    ("workspace", "*"),  # manager tasks and the task rules
    ("content", "*"),  # the content library, its review and banned phrases
    ("campaigns", "*"),
    ("referral", "*"),  # campaigns.referral: referral settings, invitations, rewards
    ("payouts", "*"),  # campaigns.payouts: the payout ledger, red-packet settings and report
    ("tagging", "*"),
    ("behaviour", "*"),  # tagging.behaviour: event types, events, tracked materials
    ("intent", "*"),  # tagging.intent: interests and intent scores
    ("tag_rules", "*"),  # tagging.rules: tag rules and their versions
    ("surveys", "*"),  # tagging.surveys: surveys and their answers
    ("leads", "*"),  # tagging.leads: lead activation
    ("wecom", "view_"),
    ("wecom", "change_inboxevent"),
    ("django_celery_beat", "view_"),
]

ROLE_PERMISSIONS: dict[Role, list[tuple[str, str]]] = {
    Role.OPS_ADMIN: [
        *_OPS_WRITE,
        ("contacts", "reveal_pii"),
        ("contacts", "erase_customer"),
        ("auth", "*"),
        ("core", "*"),
        ("axes", "*"),  # login lockouts: see and lift them
        ("wecom", "change_reconcilehold"),  # confirm a reconcile held before a mass removal
        ("django_celery_beat", "*"),
    ],
    Role.OPS_STAFF: _OPS_WRITE,
    # Reviewing needs the content library and its history, not customers (D14): no
    # contacts, groups, tags, WeCom inbox or audit trail.
    Role.COMPLIANCE_REVIEWER: [
        ("content", "view_"),
        ("content", "change_"),
        # Campaigns are approved in the same review flow as content (D6, D7).
        ("campaigns", "view_"),
        ("campaigns", "change_"),
    ],
    Role.BRANCH_MANAGER: [("contacts", "view_"), ("groups", "view_"), ("tagging", "view_")],
    Role.CUSTOMER_MANAGER: [("contacts", "view_"), ("groups", "view_"), ("tagging", "view_")],
}


def _matching(app_label: str, pattern: str):
    qs = Permission.objects.filter(content_type__app_label=app_label)
    if pattern == "*":
        return qs
    if pattern.endswith("_"):
        return qs.filter(codename__startswith=pattern)
    return qs.filter(codename=pattern)


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the role groups and set exactly their permissions. Idempotent."""
    counts: dict[str, int] = {}
    for role, rules in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        perms: set[int] = set()
        for app_label, pattern in rules:
            perms.update(_matching(app_label, pattern).values_list("id", flat=True))
        group.permissions.set(perms)
        counts[role.value] = len(perms)
    return counts


def roles_sync_after_migrate(sender, app_config=None, **kwargs) -> None:
    """Runs once per migrate, after the last app: by then every permission exists."""
    from django.apps import apps

    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if app_config is not None and with_models and app_config is with_models[-1]:
        roles_sync()


def user_has_role(user, role: Role) -> bool:
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_role_names", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._role_names = cache
    return role.value in cache


def user_has_any_role(user, *roles: Role) -> bool:
    return any(user_has_role(user, role) for role in roles)


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(user.groups.values_list("name", flat=True))
