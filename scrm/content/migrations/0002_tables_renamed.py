"""The content library's tables take this app's names; its content types (and with them
every permission granted on them) move from campaigns to this app."""

from django.db import migrations

MODELS = ["bannedphrase", "content", "contentreviewqueue", "contentversion", "contentreview"]


def content_types_move(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(
        ContentType.objects.filter(app_label="content", model__in=MODELS).values_list(
            "model", flat=True
        )
    )
    ContentType.objects.filter(app_label="campaigns", model__in=MODELS).exclude(
        model__in=taken
    ).update(app_label="content")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="content", model__in=MODELS).update(
        app_label="campaigns"
    )


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
        migrations.RunPython(content_types_move, content_types_back),
    ]
