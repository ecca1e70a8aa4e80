"""Seed the banned phrases of financial marketing: promises of guaranteed
principal or returns. Compliance maintains the list in the admin afterwards;
a phrase they changed or removed is never recreated here."""

from django.db import migrations

DEFAULTS = [
    # (phrase, allowed wordings that contain it, reason)
    ("保本", "非保本\n不保本", "承诺保本"),
    ("稳赚", "", "承诺收益"),
    ("零风险", "", "否认风险"),
    ("无风险", "", "否认风险"),
    ("保证收益", "", "承诺收益"),
]


def seed(apps, schema_editor):
    BannedPhrase = apps.get_model("campaigns", "BannedPhrase")
    for phrase, exceptions, reason in DEFAULTS:
        BannedPhrase.objects.get_or_create(
            phrase=phrase, defaults={"exceptions": exceptions, "reason": reason}
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
