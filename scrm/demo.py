"""Demo data for `make run`: people with roles, branches, regions, groups, customers.

Idempotent: a second run finds everything in place and changes nothing. Refuses
to run with production settings.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scrm.core.role_names import ROLE_LABELS, Role

DEMO_PASSWORD = "Demo@2026scrm"  # noqa: S105 - printed demo login, refused in production

# username, display name, role, WeCom userid (None for non-WeCom staff), branch code
DEMO_PEOPLE = [
    ("admin", "运营管理员", Role.OPS_ADMIN, None, None),
    ("ops", "运营专员", Role.OPS_STAFF, None, None),
    ("compliance", "合规审核员", Role.COMPLIANCE_REVIEWER, None, None),
    ("branchmgr", "王行长", Role.BRANCH_MANAGER, "wangfang", "SZ-FT"),
    ("manager1", "李经理", Role.CUSTOMER_MANAGER, "lina", "SZ-FT"),
    ("manager2", "张经理", Role.CUSTOMER_MANAGER, "zhangwei", "SZ-FT"),
    ("manager3", "陈经理", Role.CUSTOMER_MANAGER, "chenjing", "CD-JJ"),
]

DEMO_LOGINS = [(u, DEMO_PASSWORD, ROLE_LABELS[r]) for u, _n, r, _w, _b in DEMO_PEOPLE]

DEMO_BRANCHES = [("SZ-FT", "深圳福田支行"), ("CD-JJ", "成都锦江支行")]

# Demo pools: (region code, pool name, owner userid); regions come from groups/data.
DEMO_POOLS = [("440300", "深圳福利群", "lina"), ("510100", "成都福利群", "chenjing")]

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


@transaction.atomic
def seed_demo() -> dict[str, int]:
    if not settings.DEBUG and "production" in settings.SETTINGS_MODULE:
        raise RuntimeError("demo data is not loaded with production settings")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from contacts.models import Branch, Customer, FollowRelation, Staff
    from groups.models import CustomerGroup, GroupMember, GroupPool, Region
    from groups.services import region_rows_from_csv, regions_load
    from scrm.core.roles import roles_sync

    roles_sync()
    User = get_user_model()
    branches = {
        code: Branch.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in DEMO_BRANCHES
    }
    staff_by_userid: dict[str, Staff] = {}
    for username, display, role, wecom_userid, branch_code in DEMO_PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": display,
                "is_staff": role in (Role.OPS_ADMIN, Role.OPS_STAFF, Role.COMPLIANCE_REVIEWER),
                "is_superuser": role == Role.OPS_ADMIN,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role.value))
        if wecom_userid:
            staff, _ = Staff.objects.get_or_create(
                userid=wecom_userid,
                defaults={"name": display, "branch": branches[branch_code], "user": user},
            )
            staff_by_userid[wecom_userid] = staff

    regions_load(rows=region_rows_from_csv())
    regions = {r.code: r for r in Region.objects.filter(code__in=[p[0] for p in DEMO_POOLS])}
    pools = {
        code: GroupPool.objects.get_or_create(
            name=name,
            defaults={
                "region": regions[code],
                "room_base_name": name,
                "owner": staff_by_userid[owner],
            },
        )[0]
        for code, name, owner in DEMO_POOLS
    }
    GroupPool.objects.get_or_create(
        name="全国福利群",
        defaults={
            "is_default": True,
            "room_base_name": "全国福利群",
            "owner": staff_by_userid["zhangwei"],
        },
    )

    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    now = timezone.now()
    managers = [staff_by_userid[u] for u in ("lina", "zhangwei", "chenjing")]
    customers = []
    for i in range(60):
        ext = f"wmDEMO{i:04d}"
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(["", *_GIVEN])
        customer, created = Customer.objects.get_or_create(
            external_userid=ext,
            defaults={
                "name": name,
                "gender": rng.choice([1, 2]),
                "ring": rng.choice(["inner", "middle", "outer"]),
                "first_added_at": now - timedelta(days=rng.randint(0, 60)),
            },
        )
        customers.append(customer)
        if created:
            manager = managers[i % len(managers)]
            FollowRelation.objects.create(
                customer=customer,
                staff=manager,
                add_way=1,
                added_at=customer.first_added_at,
            )

    for code, pool in pools.items():
        owner = pool.owner
        for n in (1, 2):
            group, created = CustomerGroup.objects.get_or_create(
                chat_id=f"wrDEMO{code}{n}",
                defaults={
                    "name": f"{pool.room_base_name} {n}",
                    "owner": owner,
                    "owner_userid": owner.userid if owner else "",
                    "pool": pool,
                    "region": pool.region,
                    "wecom_created_at": now - timedelta(days=30),
                },
            )
            if created:
                members = [c for c in customers if c.follows.filter(staff=owner).exists()][:12]
                GroupMember.objects.bulk_create(
                    [
                        GroupMember(
                            group=group,
                            userid=c.external_userid,
                            member_type=GroupMember.MemberType.CUSTOMER,
                            customer=c,
                            name=c.name,
                            join_time=now - timedelta(days=rng.randint(1, 30)),
                            join_scene=3,
                        )
                        for c in members
                    ]
                )
                group.customer_count = len(members)
                group.member_count = len(members) + 1
                group.save(update_fields=["customer_count", "member_count"])
    return {
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "groups": CustomerGroup.objects.count(),
    }
