"""Fixtures of the groups tests: the shipped regions, local pools, and a headless
Chromium (Debian's ``chromium`` driven by Playwright) for the H5 pages."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def regions(db):
    """Every province and prefecture-level city, as shipped (groups/data/regions.csv)."""
    from django.core.management import call_command

    from groups.models import Region

    call_command("load_regions", stdout=open(os.devnull, "w"))  # noqa: SIM115
    return {r.code: r for r in Region.objects.all()}


@pytest.fixture
def local_pools(regions):
    """Benefit-group pools of Shenzhen, Chengdu and Harbin, plus the national default."""
    from tests.factories import GroupPoolFactory

    return {
        "shenzhen": GroupPoolFactory(
            name="深圳福利群", region=regions["440300"], qr_code="https://qr.example/sz.png"
        ),
        "chengdu": GroupPoolFactory(
            name="成都福利群", region=regions["510100"], qr_code="https://qr.example/cd.png"
        ),
        "harbin": GroupPoolFactory(
            name="哈尔滨福利群", region=regions["230100"], qr_code="https://qr.example/hrb.png"
        ),
        "default": GroupPoolFactory(
            name="全国福利群", region=None, is_default=True, qr_code="https://qr.example/all.png"
        ),
    }
