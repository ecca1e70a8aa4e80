"""「我的客户」 (/customers/): a manager's own customers only (D14), 25 a page, searchable
by name and filterable, phones masked as on the detail page, the verified mark shown."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import BankRecord, Customer, FollowRelation
from tests.factories import CustomerFactory, FollowRelationFactory, TagFactory

URL = reverse("customer-list")


def _mine(cast, n: int, **kwargs) -> list[Customer]:
    customers = []
    for i in range(n):
        customer = CustomerFactory(name=f"客户{i:02d}", **kwargs)
        FollowRelationFactory(customer=customer, staff=cast.staff_a)
        customers.append(customer)
    return customers


def _verified(cast, *, name: str, phone: str, no: str) -> Customer:
    record = BankRecord.objects.create(customer_no=no, name=name, phone=phone)
    customer = CustomerFactory(
        name=name,
        bank_record=record,
        verified_at=timezone.now(),
        verify_method=Customer.VerifyMethod.REMARK_MOBILE,
        ring=Customer.Ring.INNER,
    )
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    return customer


def _rows(response) -> list[str]:
    return [row["customer"].name for row in response.context["rows"]]


def test_a_manager_sees_only_their_own_customers(cast, client):
    mine = _mine(cast, 2)
    theirs = CustomerFactory(name="别人的客户")
    FollowRelationFactory(customer=theirs, staff=cast.staff_b)
    gone = CustomerFactory(name="已删除好友")
    FollowRelationFactory(
        customer=gone, staff=cast.staff_a, status=FollowRelation.Status.REMOVED_BY_CUSTOMER
    )
    client.force_login(cast.manager_a)
    response = client.get(URL)
    assert sorted(_rows(response)) == sorted(c.name for c in mine)
    page = response.content.decode()
    assert "别人的客户" not in page and "已删除好友" not in page
    assert "李娜" in page  # the manager column


def test_26_customers_make_two_pages_and_the_page_links_keep_the_filters(cast, client):
    _mine(cast, 26)
    client.force_login(cast.manager_a)
    first = client.get(URL, {"q": "客户", "verified": "no"})
    assert len(first.context["rows"]) == 25
    assert first.context["page"].paginator.num_pages == 2
    body = first.content.decode()
    assert 'href="?q=%E5%AE%A2%E6%88%B7&amp;verified=no&amp;page=2"' in body
    second = client.get(URL, {"q": "客户", "verified": "no", "page": 2})
    assert len(second.context["rows"]) == 1
    assert set(_rows(first)).isdisjoint(_rows(second))
    # A page past the end shows the last page rather than an error.
    assert _rows(client.get(URL, {"page": 99})) == _rows(second)


def test_the_phone_is_masked_and_a_verified_customer_is_marked(cast, client):
    wang = _verified(cast, name="王建国", phone="13812345678", no="C0001")
    plain = CustomerFactory(name="未认证客户")
    FollowRelationFactory(customer=plain, staff=cast.staff_a)
    client.force_login(cast.manager_a)
    page = client.get(URL).content.decode()
    assert "138****5678" in page
    assert "13812345678" not in page
    assert page.count("✓ 已认证") == 1
    # The detail page shows the same masked form.
    detail = client.get(reverse("customer-detail", args=[wang.pk])).content.decode()
    assert "138****5678" in detail


def test_a_phone_from_the_wecom_remark_is_shown_masked_and_no_phone_shows_a_dash(cast, client):
    remarked = CustomerFactory(name="有备注手机")
    FollowRelationFactory(customer=remarked, staff=cast.staff_a, remark_mobiles="13900001111")
    bare = CustomerFactory(name="无手机")
    FollowRelationFactory(customer=bare, staff=cast.staff_a)
    client.force_login(cast.manager_a)
    response = client.get(URL)
    phones = {row["customer"].name: row["phones"] for row in response.context["rows"]}
    assert phones == {"有备注手机": ["139****1111"], "无手机": []}
    page = response.content.decode()
    assert "139****1111" in page and "13900001111" not in page
    assert f'<tr data-customer="{bare.pk}">' in page
    bare_row = page.split(f'<tr data-customer="{bare.pk}">')[1].split("</tr>")[0]
    assert '<td class="pii" data-label="手机号"><span>—</span></td>' in bare_row


def test_search_by_name_and_filter_by_verified_and_ring(cast, client):
    _mine(cast, 3)
    _verified(cast, name="王建国", phone="13812345678", no="C0001")
    client.force_login(cast.manager_a)
    assert _rows(client.get(URL, {"q": "建国"})) == ["王建国"]
    assert _rows(client.get(URL, {"q": "没有这个人"})) == []
    assert _rows(client.get(URL, {"verified": "yes"})) == ["王建国"]
    assert len(_rows(client.get(URL, {"verified": "no"}))) == 3
    assert _rows(client.get(URL, {"ring": Customer.Ring.INNER})) == ["王建国"]
    # Unknown filter values are ignored rather than failing.
    assert len(_rows(client.get(URL, {"verified": "maybe", "ring": "bogus"}))) == 4
    assert "没有符合条件的客户" in client.get(URL, {"q": "没有这个人"}).content.decode()


def test_tags_and_the_added_date_are_shown(cast, client):
    (customer,) = _mine(cast, 1, first_added_at=timezone.now() - timedelta(days=400))
    for name in ("理财", "信用卡", "代发", "社保"):
        customer.tags.create(tag=TagFactory(name=name), source="manual")
    client.force_login(cast.manager_a)
    response = client.get(URL)
    (row,) = response.context["rows"]
    assert len(row["tags"]) == 3 and row["more_tags"] == 1
    page = response.content.decode()
    assert '<span class="chip">' in page and "+1" in page
    assert timezone.localdate(customer.first_added_at).isoformat() in page


def test_a_page_of_25_costs_a_fixed_number_of_queries(cast, client, django_assert_max_num_queries):
    customers = _mine(cast, 30)
    tag = TagFactory(name="理财")
    for i, customer in enumerate(customers):
        customer.tags.create(tag=tag, source="manual")
        if i % 2:
            record = BankRecord.objects.create(customer_no=f"N{i}", phone=f"1380000{i:04d}")
            Customer.objects.filter(pk=customer.pk).update(
                bank_record=record, verified_at=timezone.now()
            )
    client.force_login(cast.manager_a)
    client.get(URL)  # warm the session and role caches
    # An N+1 would cost 25 or more; today it is 8 (session, user, roles, count, page,
    # follows with staff, tags with tag).
    with django_assert_max_num_queries(10):
        response = client.get(URL)
    assert len(response.context["rows"]) == 25
    assert "138****" in response.content.decode()


def test_a_login_without_a_wecom_account_sees_an_empty_list(db, client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    response = client.get(URL)
    assert response.status_code == 200
    assert "暂无客户" in response.content.decode()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_page_renders_in_both_languages(cast, client, language):
    _mine(cast, 26)
    client.force_login(cast.manager_a)
    client.cookies["django_language"] = language
    page = client.get(URL, {"q": "客户"}).content.decode()
    assert ("My customers" in page) == (language == "en")
    if language == "en":
        # Every label of the page is translated (the data stays as it is).
        chrome = re.sub(r'value="[^"]*"', "", page.split("<main>")[1])
        chrome = re.sub(
            r"<td class=\"name\">.*?</td>|<td class=\"manager\".*?</td>", "", chrome, flags=re.S
        )
        assert not re.findall(r"[\u4e00-\u9fff]+", chrome), re.findall(r"[\u4e00-\u9fff]+", chrome)
