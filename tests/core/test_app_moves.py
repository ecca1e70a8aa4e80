"""The content library and the task list moved into apps of their own: a database
that holds rows in every moved table keeps them all through the upgrade, with their
foreign keys and the permissions granted on them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

# The last migrations before the move, of every app it touches.
BEFORE = [
    ("content", None),
    ("workspace", None),
    ("campaigns", "0002_seed_banned_phrases"),
    ("sop", "0003_task_kinds_groups"),
    ("contacts", "0003_bank_records_privacy"),
    ("groups", "0003_pools_rollover_welcome_health"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("contenttypes", "0002_remove_content_type_name"),
]
MOVED_TABLES = {
    "campaigns_bannedphrase": "content_bannedphrase",
    "campaigns_content": "content_content",
    "campaigns_contentversion": "content_contentversion",
    "campaigns_contentreview": "content_contentreview",
    "sop_managertask": "workspace_managertask",
    "sop_taskrule": "workspace_taskrule",
}


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def _rows_before(old) -> dict:
    """Rows in every table that moves, written with the models as they were."""
    User = old.get_model("auth", "User")
    Group = old.get_model("auth", "Group")
    Permission = old.get_model("auth", "Permission")
    ContentType = old.get_model("contenttypes", "ContentType")
    Staff = old.get_model("contacts", "Staff")
    Customer = old.get_model("contacts", "Customer")
    ChannelCode = old.get_model("contacts", "ChannelCode")
    Content = old.get_model("campaigns", "Content")
    ContentVersion = old.get_model("campaigns", "ContentVersion")
    ContentReview = old.get_model("campaigns", "ContentReview")
    BannedPhrase = old.get_model("campaigns", "BannedPhrase")
    SopPlan = old.get_model("sop", "SopPlan")
    SopSlot = old.get_model("sop", "SopSlot")
    ManagerTask = old.get_model("sop", "ManagerTask")
    TaskRule = old.get_model("sop", "TaskRule")

    def permission(app_label, model, codename):
        ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        return Permission.objects.get_or_create(
            codename=codename, content_type=ct, defaults={"name": codename}
        )[0]

    user = User.objects.create(username="moved-editor")
    content = Content.objects.create(
        title="迁移前的内容", text="您好", created_by=user, updated_by=user
    )
    version = ContentVersion.objects.create(
        content=content,
        number=1,
        title=content.title,
        text="您好",
        edited_by=user,
        submitted_by=user,
    )
    Content.objects.filter(pk=content.pk).update(approved_version=version, status="approved")
    review = ContentReview.objects.create(
        version=version, content=content, reviewer=user, decision="approve"
    )
    phrase = BannedPhrase.objects.create(phrase="迁移测试词", reason="测试")
    staff = Staff.objects.create(userid="moved-staff", name="迁移经理")
    customer = Customer.objects.create(external_userid="wmMOVED01", name="迁移客户")
    channel = ChannelCode.objects.create(name="迁移渠道", state="moved01", welcome_content=content)
    plan = SopPlan.objects.create(name="迁移计划", start_date=dt.date(2026, 12, 1), created_by=user)
    slot = SopSlot.objects.create(plan=plan, content=content, weekday=0, time=dt.time(9, 0))
    rule = TaskRule.objects.create(kind="birthday", days=1, suggestion=content)
    task = ManagerTask.objects.create(
        staff=staff,
        kind="birthday",
        title="迁移前的任务",
        customer=customer,
        suggestion=content,
        due_date=dt.date(2026, 12, 3),
        dedupe_key="moved:1",
    )
    group = Group.objects.create(name="迁移审核组")
    group.permissions.add(
        permission("campaigns", "content", "change_content"),
        permission("sop", "managertask", "view_managertask"),
    )
    return {
        "content": content.pk,
        "version": version.pk,
        "review": review.pk,
        "phrase": phrase.pk,
        "channel": channel.pk,
        "slot": slot.pk,
        "rule": rule.pk,
        "task": task.pk,
        "group": group.pk,
    }


def test_an_upgrade_keeps_every_row_of_the_moved_tables():
    latest = _latest()
    try:
        old = _migrate(BEFORE)
        assert set(MOVED_TABLES) <= _tables()
        ids = _rows_before(old)

        _migrate(latest)

        tables = _tables()
        assert set(MOVED_TABLES.values()) <= tables
        assert not set(MOVED_TABLES) & tables
        from django.contrib.auth.models import Group

        from contacts.models import ChannelCode
        from groups.sop.models import SopSlot
        from scrm.content.models import BannedPhrase, Content, ContentReview, ContentVersion
        from scrm.workspace.models import ManagerTask, TaskRule

        content = Content.objects.get(pk=ids["content"])
        assert content.title == "迁移前的内容"
        assert content.approved_version_id == ids["version"]
        assert ContentVersion.objects.get(pk=ids["version"]).content_id == content.pk
        assert ContentReview.objects.get(pk=ids["review"]).version_id == ids["version"]
        assert BannedPhrase.objects.get(pk=ids["phrase"]).phrase == "迁移测试词"
        assert ChannelCode.objects.get(pk=ids["channel"]).welcome_content == content
        assert SopSlot.objects.get(pk=ids["slot"]).content == content
        assert TaskRule.objects.get(pk=ids["rule"]).suggestion == content
        task = ManagerTask.objects.select_related("staff", "customer").get(pk=ids["task"])
        assert (task.title, task.staff.userid, task.customer.external_userid) == (
            "迁移前的任务",
            "moved-staff",
            "wmMOVED01",
        )
        assert task.staff.tasks.count() == 1
        perms = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(pk=ids["group"]).permissions.select_related("content_type")
        }
        assert perms == {"content.change_content", "workspace.view_managertask"}
        # New rows still get ids after the renamed tables' sequences.
        assert (
            ManagerTask.objects.create(
                staff=task.staff,
                kind="birthday",
                title="新任务",
                due_date=task.due_date,
                dedupe_key="moved:2",
            ).pk
            > task.pk
        )
    finally:
        _migrate(latest)
