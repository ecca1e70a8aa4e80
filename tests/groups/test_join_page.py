"""The H5 join page as WeChat's browser receives it (D3, D4)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contacts.links import join_token_make
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_without_a_location_the_page_asks_for_one_and_carries_the_picker(client, regions):
    response = client.get("/h5/join/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-mode="locate"' in page
    assert "广东省" in page and "深圳市" in page
    assert "groups/join.js" in page
    # CSP forbids inline code: every script is a static file.
    assert "<script>" not in page and "style=" not in page
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_picked_city_shows_its_pool_name_and_qr(client, local_pools):
    page = client.get("/h5/join/", {"region": "510100"}).content.decode()
    assert "成都福利群" in page
    assert "https://qr.example/cd.png" in page


def test_a_verified_only_pool_shows_a_message_to_an_anonymous_visitor(client, local_pools):
    pool = local_pools["shenzhen"]
    pool.verified_only = True
    pool.save()
    page = client.get("/h5/join/", {"lat": "22.54", "lng": "114.05"}).content.decode()
    assert "https://qr.example/sz.png" not in page
    assert "仅限本行认证客户" in page

    customer = CustomerFactory(verified_at=timezone.now())
    t = join_token_make(external_userid=customer.external_userid)
    page = client.get("/h5/join/", {"lat": "22.54", "lng": "114.05", "t": t}).content.decode()
    assert "https://qr.example/sz.png" in page


def test_an_unknown_region_reopens_the_picker_with_a_message(client, local_pools):
    page = client.get("/h5/join/", {"region": "999999"}).content.decode()
    assert 'data-mode="pick"' in page
    assert "未知地区" in page


def test_the_page_speaks_english_when_asked(client, local_pools):
    page = client.get("/h5/join/", {"region": "510100"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in page
    assert "Join your local benefits group" in page
    assert "Press and hold the QR code" in page
