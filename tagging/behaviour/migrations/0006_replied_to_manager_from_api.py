from django.db import migrations

# WeCom's callbacks never say that a customer replied (only the chat archive, a separate
# licence, and the daily per-staff behaviour statistics know): the bank's systems or an
# archive integration report it through the events API.


def allow(apps, schema_editor):
    EventType = apps.get_model("behaviour", "EventType")
    EventType.objects.filter(code="replied_to_manager").update(accept_from_api=True)


def disallow(apps, schema_editor):
    EventType = apps.get_model("behaviour", "EventType")
    EventType.objects.filter(code="replied_to_manager").update(accept_from_api=False)


class Migration(migrations.Migration):
    dependencies = [("behaviour", "0005_watermark")]
    operations = [migrations.RunPython(allow, disallow)]
