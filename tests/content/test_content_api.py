"""The content API: ops write and submit, compliance reviews, managers read
approved content only; errors are JSON with a code (D6, D10)."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_banned_phrase_in_api_submission_returns_the_phrases_and_positions(cast):
    ops = api(cast.ops)
    created = ops.post(
        "/api/content/", {"title": "理财", "text": "稳健理财，保本保息"}, format="json"
    )
    assert created.status_code == 201
    response = ops.post(f"/api/content/{created.json()['id']}/submit/")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "banned_phrase"
    assert "保本" in body["message"]
    assert body["phrases"] == [
        {"phrase": "保本", "field": "text", "start": 5, "end": 7, "matched": "保本"}
    ]


def test_check_endpoint_previews_banned_phrases_without_saving(cast):
    response = api(cast.ops).post("/api/content/check/", {"text": "零风险，高收益"}, format="json")
    assert response.json() == {
        "ok": False,
        "phrases": [
            {"phrase": "零风险", "field": "text", "start": 0, "end": 3, "matched": "零风险"}
        ],
    }


def test_ops_submit_and_compliance_approves_then_managers_get_the_wecom_payload(cast):
    ops = api(cast.ops)
    content_id = ops.post(
        "/api/content/",
        {
            "title": "电影票",
            "text": "{客户名称}您好，周四电影票半价",
            "attachments": [
                {"msgtype": "link", "link": {"title": "领取", "url": "https://bank.example/m"}}
            ],
        },
        format="json",
    ).json()["id"]
    assert ops.post(f"/api/content/{content_id}/submit/").json()["status"] == "pending"

    manager = api(cast.manager_a)
    assert manager.get(f"/api/content/{content_id}/").status_code == 404
    not_yet = manager.post(f"/api/content/{content_id}/message/", {}, format="json")
    assert not_yet.status_code == 404

    denied = manager.post(f"/api/content/{content_id}/approve/", {}, format="json")
    assert denied.status_code == 403
    assert denied.json()["code"] == "forbidden"

    approved = api(cast.compliance).post(
        f"/api/content/{content_id}/approve/", {"comment": "可以", "version": 1}, format="json"
    )
    assert approved.status_code == 200
    assert approved.json()["decision"] == "approved"
    assert approved.json()["reviewer"] == "compliance"

    listed = manager.get("/api/content/").json()["results"]
    assert [c["id"] for c in listed] == [content_id]
    assert "text" not in listed[0]  # managers see the approved version, not the working copy
    message = manager.post(
        f"/api/content/{content_id}/message/",
        {"variables": {"客户名称": "张先生"}},
        format="json",
    ).json()
    assert message == {
        "version": 1,
        "message": {
            "text": {"content": "张先生您好，周四电影票半价"},
            "attachments": [
                {"msgtype": "link", "link": {"title": "领取", "url": "https://bank.example/m"}}
            ],
        },
    }


def test_the_submitter_cannot_approve_through_the_api_either(cast):
    from scrm.core.roles import Role
    from tests.factories import UserFactory

    both = UserFactory(
        username="dual", is_staff=True, roles=[Role.OPS_STAFF, Role.COMPLIANCE_REVIEWER]
    )
    client = api(both)
    content_id = client.post("/api/content/", {"title": "t", "text": "你好"}, format="json").json()[
        "id"
    ]
    client.post(f"/api/content/{content_id}/submit/")
    response = client.post(f"/api/content/{content_id}/approve/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "four_eyes"


def test_rejection_needs_a_comment_and_is_listed_in_the_versions(cast, submitted_content):
    compliance = api(cast.compliance)
    url = f"/api/content/{submitted_content.pk}/reject/"
    assert compliance.post(url, {}, format="json").json()["code"] == "comment_required"
    assert compliance.post(url, {"comment": "请补充风险提示"}, format="json").status_code == 200
    versions = api(cast.ops).get(f"/api/content/{submitted_content.pk}/versions/").json()
    assert versions[0]["number"] == 1
    assert versions[0]["review"]["decision"] == "rejected"
    assert versions[0]["review"]["comment"] == "请补充风险提示"
    assert (
        api(cast.manager_a).get(f"/api/content/{submitted_content.pk}/versions/").status_code == 403
    )


def test_unknown_variable_is_rejected_at_api_submission(cast):
    ops = api(cast.ops)
    content_id = ops.post(
        "/api/content/", {"title": "t", "text": "{客户生日}快乐"}, format="json"
    ).json()["id"]
    body = ops.post(f"/api/content/{content_id}/submit/").json()
    assert body["code"] == "variable_unknown"
    assert "{客户生日}" in body["message"]


def test_malformed_attachment_is_refused_on_create(cast):
    response = api(cast.ops).post(
        "/api/content/",
        {"title": "t", "attachments": [{"msgtype": "voice", "voice": {"media_id": "x"}}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "attachment_invalid"
