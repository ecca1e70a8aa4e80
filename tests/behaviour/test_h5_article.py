"""Our own H5 article page: a material that is an approved library content opens here,
records the open, and reports once how long it was read."""

from __future__ import annotations

import re

import pytest

from tagging.behaviour import links
from tagging.behaviour.models import Event, Material
from tests.behaviour.conftest import approved_content
from tests.factories import CustomerFactory, CustomerGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def article(cast):
    content = approved_content(cast, text="基金定投的三个好处。\n长期持有，分散风险。")
    return Material.objects.create(
        title="基金定投入门",
        url="https://bank.example/articles/dca",
        category=Material.Category.FUNDS,
        article=content,
    )


def _view(html: str) -> str:
    return re.search(r'data-view="([^"]+)"', html).group(1)


def test_the_article_page_records_the_open_and_one_dwell_per_view(client, article):
    customer = CustomerFactory()
    token = links.token_make(material_id=article.pk, customer_id=customer.pk)
    # The tracked link of an article material opens our page (which records the open).
    assert client.get(f"/t/{token}")["Location"] == f"/h5/a/{token}/"
    assert not Event.objects.exists()
    page = client.get(f"/h5/a/{token}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "基金定投入门" in html and "长期持有，分散风险。" in html
    assert "<script>" not in html and "behaviour/dwell.js" in html  # no inline script
    opened = Event.objects.get(type="material_opened")
    assert opened.customer_id == customer.pk and opened.properties["category"] == "funds"

    view = _view(html)
    beacon = client.post(f"/h5/a/{token}/dwell", {"view": view, "seconds": "42"})
    assert beacon.status_code == 204
    dwell = Event.objects.get(type="material_dwell")
    assert (dwell.source, dwell.customer_id) == ("material", customer.pk)
    assert dwell.properties == {
        "material": article.pk,
        "category": "funds",
        "title": "基金定投入门",
        "seconds": 42,
    }
    # A second beacon of the same view changes nothing.
    assert client.post(f"/h5/a/{token}/dwell", {"view": view, "seconds": "50"}).status_code == 204
    assert Event.objects.filter(type="material_dwell").count() == 1


def test_reading_time_is_capped(client, article):
    from django.core.cache import cache

    token = links.token_make(material_id=article.pk, customer_id=CustomerFactory().pk)
    view = _view(client.get(f"/h5/a/{token}/").content.decode())
    client.post(f"/h5/a/{token}/dwell", {"view": view, "seconds": "99999"})
    assert Event.objects.get(type="material_dwell").properties["seconds"] == 1800
    cache.clear()
    assert client.post(f"/h5/a/{token}/dwell", {"view": view, "seconds": "-5"}).status_code == 204
    assert Event.objects.filter(type="material_dwell").count() == 1


def test_a_forged_token_or_view_records_nothing(client, article):
    customer, other = CustomerFactory(), CustomerFactory()
    token = links.token_make(material_id=article.pk, customer_id=customer.pk)
    m, _r, day, sig = token.split(".")
    forged = f"{m}.{links.b62(other.pk)}.{day}.{sig}"
    assert client.get(f"/h5/a/{forged}/").status_code == 403
    assert (
        client.post(f"/h5/a/{forged}/dwell", {"view": "1.abc", "seconds": "9"}).status_code == 403
    )
    view = _view(client.get(f"/h5/a/{token}/").content.decode())
    moment = view.split(".")[0]
    altered = f"{int(moment) + 1}.{view.split('.')[1]}"
    assert client.post(f"/h5/a/{token}/dwell", {"view": altered, "seconds": "9"}).status_code == 403
    assert client.post(f"/h5/a/{forged}/dwell", {"view": view, "seconds": "9"}).status_code == 403
    assert not Event.objects.filter(type="material_dwell").exists()
    assert list(Event.objects.values_list("customer_id", flat=True)) == [customer.pk]


def test_a_group_article_link_shows_the_page_without_the_beacon(client, article):
    token = links.token_make(material_id=article.pk, group_id=CustomerGroupFactory().pk)
    html = client.get(f"/h5/a/{token}/").content.decode()
    assert "基金定投入门" in html and "dwell.js" not in html
    article.refresh_from_db()
    assert article.group_opens == 1 and not Event.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_leaving_the_page_records_the_reading_time(live_server, page, cast):
    content = approved_content(cast, text="信用卡新户礼。\n首刷有礼。")
    material = Material.objects.create(
        title="信用卡新户礼",
        url="https://bank.example/cards",
        category=Material.Category.CARDS,
        article=content,
    )
    customer = CustomerFactory()
    token = links.token_make(material_id=material.pk, customer_id=customer.pk)
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{live_server.url}/h5/a/{token}/")
    assert page.locator("#article-title").inner_text() == "信用卡新户礼"
    page.wait_for_timeout(1600)
    page.goto(f"{live_server.url}/t/gone/")  # leaving the page sends the beacon
    for _ in range(50):
        if Event.objects.filter(type="material_dwell").exists():
            break
        page.wait_for_timeout(100)
    dwell = Event.objects.get(type="material_dwell")
    assert dwell.customer_id == customer.pk
    assert 1 <= dwell.properties["seconds"] <= 10
    assert violations == []
