"""The content library's tables take this app's names; its content types (and with them
every permission granted on them) move from campaigns to this app."""

from django.db import migrations

from scrm.core.migration_ops import move_content_types


class Migration(migrations.Migration):
    dependencies = [
        ("content", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
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
