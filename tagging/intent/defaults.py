"""The interests a new install starts with (ops tune them in the admin)."""

from __future__ import annotations

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


def interests_seed(interest_model) -> int:
    """Create the default interests that are missing (never changes one ops edited).
    Run by the data migration and after every migrate or flush."""
    have = set(interest_model.objects.values_list("code", flat=True))
    missing = [
        interest_model(
            code=code,
            name=name,
            half_life_days=half_life,
            high_threshold=high,
            medium_threshold=medium,
            low_threshold=low,
            order=order,
        )
        for order, (code, name, half_life, high, medium, low) in enumerate(SEED)
        if code not in have
    ]
    interest_model.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)
