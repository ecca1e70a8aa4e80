"""Operations for migrations that move models between apps.

Kept small and stable: migrations import them, so changing their behaviour changes
what old migrations do.
"""

from __future__ import annotations

from django.db import migrations


def move_content_types(*, from_label: str, to_label: str, models: list[str]):
    """A ``RunPython`` that moves the content types of ``models`` (lower-case model
    names) from one app label to another, and back when unapplied. Permissions, admin
    log entries and anything else that points at those content types move with them.
    A content type already present under the new label (a fresh database where
    ``post_migrate`` made it) is left as it is."""

    def move(apps, old: str, new: str) -> None:
        ContentType = apps.get_model("contenttypes", "ContentType")
        taken = set(
            ContentType.objects.filter(app_label=new, model__in=models).values_list(
                "model", flat=True
            )
        )
        ContentType.objects.filter(app_label=old, model__in=models).exclude(model__in=taken).update(
            app_label=new
        )

    return migrations.RunPython(
        lambda apps, schema_editor: move(apps, from_label, to_label),
        lambda apps, schema_editor: move(apps, to_label, from_label),
    )
