"""One access rule (D14, ``scrm.core.access``) for customers, groups and tasks, walked
through every entry point: the pages, the admin and the API.

Everyone gets admin access (``is_staff``) here: it must widen nothing. Each staff
member owns one customer, one group and one task, named after them, so a page shows
exactly the names of the people whose rows the viewer may see.
"""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from contacts.selectors import customers_visible_to
from groups.selectors import groups_visible_to
from scrm.core.access import EVERYTHING, NOTHING, viewer_scope
from scrm.workspace.models import ManagerTask
from scrm.workspace.selectors import tasks_visible_to
from tests.factories import CustomerFactory, CustomerGroupFactory, FollowRelationFactory

pytestmark = pytest.mark.django_db

OWNERS = ("李娜", "陈静", "王芳")  # staff_a (SZ-FT), staff_b (CD-JJ), staff_branch_manager (SZ-FT)
# Who sees whose rows. The branch manager of SZ-FT sees their branch: 李娜 and themself.
SEES = {
    "ops": set(OWNERS),
    "ops_admin": set(OWNERS),
    "branch_manager": {"李娜", "王芳"},
    "manager_a": {"李娜"},
    "manager_b": {"陈静"},
    "compliance": set(),
}


@pytest.fixture
def world(cast):
    staff = {
        "李娜": cast.staff_a,
        "陈静": cast.staff_b,
        "王芳": cast.staff_branch_manager,
    }
    rows = {}
    for name, member in staff.items():
        customer = CustomerFactory(name=f"客户{name}")
        FollowRelationFactory(customer=customer, staff=member)
        group = CustomerGroupFactory(name=f"群{name}", owner=member)
        task = ManagerTask.objects.create(
            staff=member,
            kind=ManagerTask.Kind.BIRTHDAY,
            title=f"任务{name}",
            customer=customer,
            due_date=dt.date.today(),
            dedupe_key=f"access:{name}",
        )
        rows[name] = {"customer": customer, "group": group, "task": task}
    for user in (cast.branch_manager, cast.manager_a, cast.manager_b, cast.compliance):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return rows


def _names(text: str, prefix: str) -> set[str]:
    return {name for name in OWNERS if f"{prefix}{name}" in text}


@pytest.mark.parametrize("who", list(SEES))
def test_the_selectors_agree_on_who_sees_what(cast, world, who):
    user = getattr(cast, who)
    assert {c.name[2:] for c in customers_visible_to(user)} == SEES[who]
    assert {g.name[1:] for g in groups_visible_to(user=user)} == SEES[who]
    assert {t.title[2:] for t in tasks_visible_to(user)} == SEES[who]


def test_admin_access_alone_widens_nothing(cast, world):
    assert cast.manager_a.is_staff
    assert viewer_scope(cast.manager_a).staff_id == cast.staff_a.pk
    assert not viewer_scope(cast.manager_a).everything
    assert viewer_scope(cast.compliance) == NOTHING
    assert viewer_scope(cast.ops) == EVERYTHING


# (entry point, prefix of the names it shows, users allowed in at all)
PAGES = [
    ("/customers/", "客户"),
    ("/admin/contacts/customer/", "客户"),
    ("/admin/groups/customergroup/", "群"),
    ("/admin/workspace/managertask/", "任务"),
]
APIS = [
    ("/api/customers/", "客户"),
    ("/api/groups/", "群"),
]


@pytest.mark.parametrize("who", list(SEES))
@pytest.mark.parametrize(("url", "prefix"), PAGES)
def test_pages_and_admin_show_only_what_the_rule_allows(client, cast, world, who, url, prefix):
    client.force_login(getattr(cast, who))
    response = client.get(url)
    if response.status_code in (302, 403):  # not for this role at all: shows nothing
        assert not _names(response.content.decode(), prefix)
        return
    assert response.status_code == 200, (who, url)
    assert _names(response.content.decode(), prefix) <= SEES[who], (who, url)
    if url != "/admin/workspace/managertask/" or who.startswith("ops"):
        assert _names(response.content.decode(), prefix) == SEES[who], (who, url)


@pytest.mark.parametrize("who", list(SEES))
@pytest.mark.parametrize(("url", "prefix"), APIS)
def test_the_api_lists_only_what_the_rule_allows(cast, world, who, url, prefix):
    api = APIClient()
    api.force_authenticate(getattr(cast, who))
    response = api.get(url)
    if response.status_code == 403:
        assert not SEES[who] or who == "compliance"
        return
    assert response.status_code == 200, (who, url)
    assert _names(response.content.decode(), prefix) == SEES[who], (who, url)


@pytest.mark.parametrize("who", list(SEES))
def test_a_row_outside_the_scope_cannot_be_opened_by_id(cast, world, who, client):
    user = getattr(cast, who)
    api = APIClient()
    api.force_authenticate(user)
    client.force_login(user)
    for name in OWNERS:
        customer = world[name]["customer"]
        allowed = name in SEES[who]
        detail = api.get(f"/api/customers/{customer.pk}/")
        assert (detail.status_code == 200) == allowed, (who, name, detail.status_code)
        if not allowed:
            assert detail.json()["code"]
        page = client.get(f"/customers/{customer.pk}/")
        assert (page.status_code == 200) == allowed, (who, name, page.status_code)


def test_the_workspace_shows_each_manager_only_their_own_tasks(cast, world, client):
    for user, name in ((cast.manager_a, "李娜"), (cast.branch_manager, "王芳")):
        client.force_login(user)
        assert _names(client.get("/workspace/").content.decode(), "任务") == {name}
        api = APIClient()
        api.force_authenticate(user)
        assert _names(api.get("/api/workspace/tasks/").content.decode(), "任务") == {name}
