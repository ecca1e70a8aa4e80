"""Customer H5 links (verify phone, unsubscribe): a link whose signed payload has an
unexpected shape is refused with a 400 page and a message, like a forged one."""

from __future__ import annotations

import pytest
from django.core import signing
from django.urls import reverse

from contacts.bank import _H5_VERIFY_SALT
from contacts.privacy import _UNSUBSCRIBE_SALT
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ODD_PAYLOADS = [
    [1],
    "1",
    17,
    None,
    {},
    {"x": 1},
    {"c": "abc"},
    {"c": "1"},
    {"c": [1]},
    {"c": {"id": 1}},
    {"c": True},
    {"c": 1.5},
    {"c": -1},
    {"c": 10**30},
]


@pytest.mark.parametrize("payload", ODD_PAYLOADS, ids=repr)
@pytest.mark.parametrize(
    ("name", "salt"),
    [("h5-verify", _H5_VERIFY_SALT), ("h5-unsubscribe", _UNSUBSCRIBE_SALT)],
    ids=["verify", "unsubscribe"],
)
def test_a_signed_link_of_the_wrong_shape_is_a_400_page(client, name, salt, payload):
    CustomerFactory()  # a customer exists (id 1 or so): the link must still not reach one
    token = signing.dumps(payload, salt=salt, compress=True)
    for method in (client.get, client.post):
        response = method(reverse(name, args=[token]), {"phone": "13800001111"})
        assert response.status_code == 400
        assert "链接无效" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "salt"),
    [("h5-verify", _H5_VERIFY_SALT), ("h5-unsubscribe", _UNSUBSCRIBE_SALT)],
    ids=["verify", "unsubscribe"],
)
def test_a_well_formed_link_still_opens(client, name, salt):
    customer = CustomerFactory()
    token = signing.dumps({"c": customer.pk}, salt=salt, compress=True)
    assert client.get(reverse(name, args=[token])).status_code == 200
