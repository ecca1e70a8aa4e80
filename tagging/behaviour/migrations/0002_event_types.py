from django.db import migrations


def seed(apps, schema_editor):
    from tagging.behaviour.types import BANK_DEFAULTS, BUILTIN

    EventType = apps.get_model("behaviour", "EventType")
    for code, name, description in BUILTIN:
        EventType.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "builtin": True,
                "accept_from_api": False,
            },
        )
    for code, name, description in BANK_DEFAULTS:
        EventType.objects.get_or_create(
            code=code, defaults={"name": name, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("behaviour", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
