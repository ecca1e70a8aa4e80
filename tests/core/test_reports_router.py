"""Reports read from the replica when one is configured; nothing else moves."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.test import override_settings

from campaigns.lottery.selectors import lottery_report
from campaigns.models import Campaign, Coupon
from scrm.core.db import ReportsRouter, reads_from_reports, reports_alias, reports_reading


def _with_replica():
    databases = copy.deepcopy(settings.DATABASES)
    databases["reports"] = {**databases["default"], "TEST": {"MIRROR": "default"}}
    return override_settings(DATABASES=databases)


def test_without_a_replica_reports_read_the_primary():
    assert "reports" not in settings.DATABASES
    with reports_reading() as alias:
        assert alias == "default"
        assert Coupon.objects.all().db == "default"


def test_with_a_replica_only_reads_inside_a_report_go_to_it():
    with _with_replica():
        assert Coupon.objects.all().db == "default"
        with reports_reading() as alias:
            assert alias == "reports"
            assert Coupon.objects.all().db == "reports"
            assert Campaign.objects.all().db == "reports"
            # A write never goes to the replica, even inside a report.
            assert ReportsRouter().db_for_write(Coupon) == "default"
        assert reports_alias() == "default"


def test_the_decorated_report_selectors_read_from_the_replica():
    seen: list[str] = []

    @reads_from_reports
    def report():
        seen.append(Coupon.objects.all().db)

    with _with_replica():
        report()
    assert seen == ["reports"]
    assert getattr(lottery_report, "__wrapped__", None) is not None


def test_the_replica_is_never_migrated():
    router = ReportsRouter()
    assert router.allow_migrate("reports", "campaigns") is False
    assert router.allow_migrate("default", "campaigns") is True


@pytest.mark.parametrize("url", ["postgres://u@replica.example:5432/scrm"])
def test_database_replica_url_adds_the_reports_alias(url, monkeypatch):
    import importlib

    import scrm.settings.database as database

    monkeypatch.setenv("DATABASE_REPLICA_URL", url)
    try:
        reloaded = importlib.reload(database)
        assert reloaded.DATABASES["reports"]["HOST"] == "replica.example"
        assert reloaded.DATABASES["reports"]["TEST"] == {"MIRROR": "default"}
        assert reloaded.DATABASE_ROUTERS == ["scrm.core.db.ReportsRouter"]
    finally:
        monkeypatch.delenv("DATABASE_REPLICA_URL")
        importlib.reload(database)
