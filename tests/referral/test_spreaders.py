"""D8 key spreaders: inviters ranked by direct and indirect successful invites and the
value of those customers; the top ones get the corp tag 关键传播者 (in WeCom too, so
managers see it) and form the segment of the same name."""

from __future__ import annotations

import pytest

from campaigns.referral.models import Segment
from campaigns.referral.spreaders import (
    TAG_NAME,
    key_spreaders_refresh,
    spreaders_rank,
)
from contacts.models import BankRecord, Customer
from tagging.models import CustomerTag, Tag
from tagging.services import customer_tags_push
from tests.referral.conftest import code_of, scan, scan_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(corp, program):
    """root → a1, a2; a1 → b1; b1 → c1 (c1 holds 50万–600万 at the bank, inner ring)."""
    root, _f, _e = scan(corp, userid="lina", name="王老客")
    a1 = scan_code(corp, code_of(program, root), "一级甲")
    a2 = scan_code(corp, code_of(program, root), "一级乙")
    b1 = scan_code(corp, code_of(program, a1), "二级甲")
    c1 = scan_code(corp, code_of(program, b1), "三级甲")
    record = BankRecord.objects.create(customer_no="6222100", aum_bracket="500k_6m")
    Customer.objects.filter(pk=c1.pk).update(bank_record=record, ring="inner")
    return {"root": root, "a1": a1, "a2": a2, "b1": b1, "c1": c1}


def test_the_ranking_counts_direct_and_indirect_invites_and_their_value(chain, program):
    rows = {r.customer_id: (r.direct, r.indirect, r.value) for r in spreaders_rank()}
    c1_value = 3 + 4  # inner ring, 50万–600万
    assert rows == {
        chain["root"].pk: (2, 2, c1_value),
        chain["a1"].pk: (1, 1, c1_value),
        chain["b1"].pk: (1, 0, c1_value),
    }
    assert [r.customer_id for r in spreaders_rank()][:2] == [chain["root"].pk, chain["a1"].pk]
    by_value = spreaders_rank(order="value")
    assert by_value[0].value == c1_value
    assert spreaders_rank(program_ids=[program.pk + 1000]) == []


def test_the_top_spreaders_are_tagged_in_wecom_and_form_a_segment(corp, chain):
    result = key_spreaders_refresh(top=2)
    assert (result.tagged, result.untagged, result.members) == (2, 0, 2)
    tag = Tag.objects.get(name=TAG_NAME, group__name="老带新")
    assert tag.wecom_id  # made in WeCom
    groups = {g["group_name"]: g for g in corp.state()["tag_groups"]}
    assert TAG_NAME in [t["name"] for t in groups["老带新"]["tag"]]
    tagged = set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))
    assert tagged == {chain["root"].pk, chain["a1"].pk}
    # What the worker does on commit: the tag reaches WeCom on the manager's relation.
    assert customer_tags_push(customer_id=chain["root"].pk) == 1
    follows = {(f["external_userid"], f["userid"]): f for f in corp.state()["follows"]}
    assert tag.wecom_id in follows[(chain["root"].external_userid, "lina")]["tag_ids"]

    segment = Segment.objects.get(name="关键传播者")
    members = list(segment.members.order_by("rank").values_list("customer_id", "rank"))
    assert members == [(chain["root"].pk, 1), (chain["a1"].pk, 2)]

    # Only the first now: the second loses the tag and leaves the segment.
    result = key_spreaders_refresh(top=1)
    assert (result.tagged, result.untagged, result.members) == (0, 1, 1)
    assert set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True)) == {
        chain["root"].pk
    }
    assert list(segment.members.values_list("customer_id", flat=True)) == [chain["root"].pk]
    assert Tag.objects.filter(name=TAG_NAME).count() == 1


def test_the_report_in_the_admin_shows_the_ranking_and_tags_from_there(corp, chain, client, cast):
    from scrm.core.models import AuditEvent

    client.force_login(cast.ops_admin)
    page = client.get("/admin/referral/referralprogram/spreaders/?order=total")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="spreader"') == 3
    assert AuditEvent.objects.filter(target_type="referral.spreaders").exists()
    response = client.post("/admin/referral/referralprogram/spreaders/", {"top": "1"})
    assert response.status_code == 302
    assert CustomerTag.objects.filter(tag__name=TAG_NAME).count() == 1
    # A customer manager has no business here.
    client.force_login(cast.manager_a)
    assert client.get("/admin/referral/referralprogram/spreaders/").status_code in (302, 403)
