from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without blocking the webhook's INSERTs.
    atomic = False

    dependencies = [
        ("wecom", "0003_inbox_pending_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="inboxevent",
            index=models.Index(
                condition=models.Q(("status", "dead")),
                fields=["id"],
                name="wecom_inbox_dead_idx",
            ),
        ),
    ]
