from django.db import migrations


def describe(apps, schema_editor):
    from tagging.behaviour.types import BUILTIN

    EventType = apps.get_model("behaviour", "EventType")
    for code, name, description in BUILTIN:
        EventType.objects.filter(code=code, builtin=True).update(description=description)


class Migration(migrations.Migration):
    dependencies = [("behaviour", "0006_replied_to_manager_from_api")]
    operations = [migrations.RunPython(describe, migrations.RunPython.noop)]
