from django.db import migrations

# (code, name, half-life days, high, medium, low): financial interests decay slower
# than leisure ones (a fund decision takes weeks; a film outing days).
SEED = [
    ("funds", "基金", 21.0, 60.0, 30.0, 10.0),
    ("insurance", "保险", 30.0, 60.0, 30.0, 10.0),
    ("loans", "贷款", 14.0, 60.0, 30.0, 10.0),
    ("cards", "信用卡", 14.0, 60.0, 30.0, 10.0),
    ("deposits", "存款", 30.0, 60.0, 30.0, 10.0),
    ("movies", "电影", 7.0, 60.0, 30.0, 10.0),
    ("food", "美食", 7.0, 60.0, 30.0, 10.0),
    ("digital", "数码", 10.0, 60.0, 30.0, 10.0),
    ("beauty", "美妆", 10.0, 60.0, 30.0, 10.0),
]


def seed(apps, schema_editor):
    Interest = apps.get_model("intent", "Interest")
    for order, (code, name, half_life, high, medium, low) in enumerate(SEED):
        Interest.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "half_life_days": half_life,
                "high_threshold": high,
                "medium_threshold": medium,
                "low_threshold": low,
                "order": order,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("intent", "Interest").objects.filter(code__in=[s[0] for s in SEED]).delete()


class Migration(migrations.Migration):
    dependencies = [("intent", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
