"""The task tables take this app's names; their content types (and with them every
permission granted on them) move from SOP to this app."""

from django.db import migrations

from scrm.core.migration_ops import move_content_types


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sop", "0004_tasks_to_workspace"),
    ]

    operations = [
        migrations.AlterModelTable(name="taskrule", table=None),
        migrations.AlterModelTable(name="managertask", table=None),
        migrations.RenameIndex(
            model_name="managertask",
            new_name="workspace_m_staff_i_dd0253_idx",
            old_name="sop_manager_staff_i_018073_idx",
        ),
        move_content_types(from_label="sop", to_label="workspace", models=["managertask", "taskrule"]),
    ]
