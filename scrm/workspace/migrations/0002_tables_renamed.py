"""The task tables take this app's names; their content types (and with them every
permission granted on them) move from SOP to this app."""

from django.db import migrations

MODELS = ["managertask", "taskrule"]


def content_types_move(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(
        ContentType.objects.filter(app_label="workspace", model__in=MODELS).values_list(
            "model", flat=True
        )
    )
    ContentType.objects.filter(app_label="sop", model__in=MODELS).exclude(
        model__in=taken
    ).update(app_label="workspace")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="workspace", model__in=MODELS).update(app_label="sop")


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="taskrule", table=None),
        migrations.AlterModelTable(name="managertask", table=None),
        migrations.RenameIndex(
            model_name="managertask",
            new_name="workspace_m_staff_i_dd0253_idx",
            old_name="sop_manager_staff_i_018073_idx",
        ),
        migrations.RunPython(content_types_move, content_types_back),
    ]
