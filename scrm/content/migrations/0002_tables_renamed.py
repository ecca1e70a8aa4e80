"""The content library's tables take this app's names; its content types (and with them
every permission granted on them) move from campaigns to this app."""

from django.db import migrations

from scrm.core.migration_ops import move_content_types


class Migration(migrations.Migration):
    # The rename comes after every migration that wrote to the old tables' names
    # (foreign keys added by contacts and SOP), whatever order the graph picks.
    dependencies = [
        ("content", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contacts", "0003_bank_records_privacy"),
        ("sop", "0003_task_kinds_groups"),
    ]

    operations = [
        migrations.AlterModelTable(name="bannedphrase", table=None),
        migrations.AlterModelTable(name="content", table=None),
        migrations.AlterModelTable(name="contentversion", table=None),
        migrations.AlterModelTable(name="contentreview", table=None),
        migrations.RenameIndex(
            model_name="content",
            new_name="content_con_status_46b33a_idx",
            old_name="campaigns_c_status_db9946_idx",
        ),
        move_content_types(from_label="campaigns", to_label="content", models=["bannedphrase", "content", "contentreviewqueue", "contentversion", "contentreview"]),
    ]
