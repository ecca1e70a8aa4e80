"""Tracked materials: every link we send gets a short signed per-recipient URL that
records the open and redirects; a forged one records nothing and still redirects to
a place we chose."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache

from scrm.content.selectors import content_get_approved
from scrm.content.services import content_message_build
from tagging.behaviour import links
from tagging.behaviour.models import Event, Material
from tests.behaviour.conftest import approved_content
from tests.factories import CustomerFactory, CustomerGroupFactory

pytestmark = pytest.mark.django_db
FUND_URL = "https://bank.example/funds/weekly"


def _path(url: str) -> str:
    base = settings.SCRM_PUBLIC_URL.rstrip("/")
    assert url.startswith(base), url
    return url[len(base) :]


def _message_link(cast, customer=None, group=None, url=FUND_URL) -> str:
    content = approved_content(cast, url=url)
    payload = content_message_build(
        version=content_get_approved(content_id=content.pk),
        customer_id=customer.pk if customer else None,
        group_id=group.pk if group else None,
    )
    return payload["attachments"][0]["link"]["url"]


def test_a_link_sent_to_a_customer_is_a_short_tracked_url_that_records_the_open(client, cast):
    customer = CustomerFactory()
    url = _message_link(cast, customer=customer)
    material = Material.objects.get(url=FUND_URL)
    assert material.title == "本周精选基金" and material.first_content_id
    path = _path(url)
    assert path.startswith("/t/") and len(path) < 40  # short enough for a link card
    material.category = Material.Category.FUNDS
    material.interest = "funds"
    material.save()

    assert client.head(path)["Location"] == FUND_URL  # a link checker: not an open
    assert not Event.objects.exists()
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == FUND_URL
    event = Event.objects.get()
    assert (event.source, event.type, event.customer_id) == (
        "material",
        "material_opened",
        customer.pk,
    )
    assert event.properties == {
        "material": material.pk,
        "category": "funds",
        "title": "本周精选基金",
        "channel": "single",
        "interest": "funds",
    }
    # A double hit right after (a preview fetch, a double tap) counts once …
    assert client.get(path).status_code == 302
    assert Event.objects.count() == 1
    # … a real repeat open later counts again.
    cache.clear()  # the 30 s window has passed
    assert client.get(path)["Location"] == FUND_URL
    assert Event.objects.count() == 2
    material.refresh_from_db()
    assert material.opens == 2


def test_without_a_recipient_the_link_is_sent_as_written(cast):
    assert _message_link(cast) == FUND_URL
    assert not Material.objects.exists()


def test_the_same_url_is_one_material_for_every_recipient(cast):
    first = _message_link(cast, customer=CustomerFactory())
    second = _message_link(cast, customer=CustomerFactory())
    assert first != second
    assert Material.objects.count() == 1


def test_a_forged_or_altered_link_records_nothing_and_redirects_safely(client, cast):
    customer, other = CustomerFactory(), CustomerFactory()
    path = _path(_message_link(cast, customer=customer))
    material = Material.objects.get()
    token = path.removeprefix("/t/")
    m, _r, day, signature = token.split(".")
    # Altered to name another customer: the registered URL, nothing recorded.
    altered = f"{m}.{links.b62(other.pk)}.{day}.{signature}"
    response = client.get(f"/t/{altered}")
    assert response.status_code == 302 and response["Location"] == material.url
    # A made-up material: our neutral page, never a URL from the request.
    for forged in ("zzzz.1.AAAAAAAAAAAA", "x", "https:..evil.example", "." * 70):
        response = client.get(f"/t/{forged}?next=https://evil.example/")
        assert response.status_code == 302
        assert response["Location"] == "/t/gone/"
    assert client.get("/t/gone/").status_code == 200
    assert not Event.objects.exists()
    material.refresh_from_db()
    assert material.opens == 0


def test_a_group_link_counts_on_the_material_and_names_no_customer(client, cast):
    group = CustomerGroupFactory()
    path = _path(_message_link(cast, group=group))
    assert ".g" in path
    assert client.get(path)["Location"] == FUND_URL
    assert client.get(path)["Location"] == FUND_URL  # a double hit
    material = Material.objects.get()
    assert (material.group_opens, material.opens) == (1, 0)
    assert not Event.objects.exists()


def test_a_token_cannot_pass_for_another_kind_of_signed_link():
    token = links.token_make(material_id=5, customer_id=7)
    assert links.token_read(token) == links.TrackedLink(material_id=5, customer_id=7)
    group = links.token_make(material_id=5, group_id=7)
    assert links.token_read(group) == links.TrackedLink(material_id=5, group_id=7)
    m, r, d, s = group.split(".")
    with pytest.raises(links.LinkInvalid):
        links.token_read(f"{m}.{r[1:]}.{d}.{s}")  # the group's signature does not fit a customer


def test_an_expired_link_records_nothing_and_still_takes_the_customer_to_the_material(
    client, cast, monkeypatch, settings
):
    import time as clock

    customer = CustomerFactory()
    path = _path(_message_link(cast, customer=customer))
    material = Material.objects.get()
    real = clock.time
    monkeypatch.setattr(clock, "time", lambda: real() - 400 * 86400)
    old = links.token_make(material_id=material.pk, customer_id=customer.pk)
    monkeypatch.setattr(clock, "time", real)
    with pytest.raises(links.LinkInvalid) as refused:
        links.token_read(old)
    assert refused.value.reason == "expired"
    response = client.get(f"/t/{old}")
    assert response.status_code == 302 and response["Location"] == material.url
    assert not Event.objects.exists()
    # A younger link, and a longer validity setting, still count.
    settings.BEHAVIOUR_LINK_MAX_AGE_DAYS = 500
    assert client.get(f"/t/{old}")["Location"] == material.url
    assert Event.objects.count() == 1
    assert path.startswith("/t/")
