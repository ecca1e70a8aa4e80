from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # The inbox takes callbacks during a deploy: build the indexes without
    # blocking its INSERTs.
    atomic = False

    dependencies = [
        ("wecom", "0002_inbox_request_nonce"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="inboxevent",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["id"],
                name="wecom_inbox_pending_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="inboxevent",
            index=models.Index(
                condition=models.Q(("status", "processing")),
                fields=["lease_until"],
                name="wecom_inbox_leased_idx",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="inboxevent",
            name="wecom_inbox_open_idx",
        ),
    ]
