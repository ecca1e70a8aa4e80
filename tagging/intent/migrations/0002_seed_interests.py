from django.db import migrations


def seed(apps, schema_editor):
    from tagging.intent.defaults import interests_seed

    interests_seed(apps.get_model("intent", "Interest"))


def unseed(apps, schema_editor):
    from tagging.intent.defaults import SEED

    apps.get_model("intent", "Interest").objects.filter(code__in=[s[0] for s in SEED]).delete()


class Migration(migrations.Migration):
    dependencies = [("intent", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
