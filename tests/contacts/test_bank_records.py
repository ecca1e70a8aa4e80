"""Bank records (D1, D4): import with per-row errors in Chinese, ring from card bindings,
matching by remark mobile, manager binding and H5 phone confirmation."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import Workbook
from rest_framework.test import APIClient

from contacts.bank import (
    bank_records_import,
    customer_verify_link_token,
    follow_set_remark_mobiles,
)
from contacts.crypto import phone_hash
from contacts.models import BankImportJob, BankRecord, Customer, FollowRelation
from contacts.tasks import bank_import_run
from scrm.core.models import AuditEvent
from tests.factories import CustomerFactory, FollowRelationFactory

HEADER = (
    "客户号,姓名,手机号,证件号,生日,网点,本行借记卡,本行信用卡,他行卡,AUM区间,理财产品,产品到期日\n"
)
CSV = (
    HEADER
    + "C001,张三,13800001111,440301199001011234,1990-01-01,SZ-FT,是,否,否,50k_500k,稳健一号,2026-12-31\n"
    + "C002,李四,+86 139-0000-2222,,1985/02/03,SZ-FT,否,是,否,,,\n"
    + "C003,王五,12345,,1970-13-01,,否,否,否,,,\n"
    + ",无号,13700003333,,,,否,否,否,,,\n"
    + "C004,赵六,13600004444,,,,否,否,否,5万以下,,\n"
)


def test_csv_import_saves_good_rows_and_reports_bad_ones_in_chinese(cast):
    from contacts.bank import rows_from_file

    result = bank_records_import(
        rows=rows_from_file(name="bank.csv", data=CSV.encode()), actor=cast.ops_admin
    )
    assert (result.created, result.updated, result.error_count) == (3, 0, 2)
    bad = {e.line: e.messages for e in result.errors}
    assert "手机号格式不正确：12345" in bad[4]
    assert "生日日期格式不正确（应为 YYYY-MM-DD）" in bad[4]
    assert bad[5] == ["客户号不能为空"]
    # D1 rings from card bindings.
    rings = dict(BankRecord.objects.values_list("customer_no", "ring"))
    assert rings == {"C001": "inner", "C002": "middle", "C004": "outer"}
    c1 = BankRecord.objects.get(customer_no="C001")
    assert c1.phone == "13800001111" and c1.phone_hash == phone_hash("13800001111")
    assert str(c1.product_maturity) == "2026-12-31" and c1.branch.code == "SZ-FT"
    assert BankRecord.objects.get(customer_no="C002").phone == "13900002222"
    # Encrypted at rest: the column does not hold the number.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT phone, id_number FROM contacts_bankrecord WHERE customer_no='C001'")
        raw_phone, raw_id = cur.fetchone()
    assert "13800001111" not in raw_phone and "440301" not in raw_id
    assert AuditEvent.objects.filter(action="import", actor=cast.ops_admin).count() == 1


def test_reimport_updates_by_customer_number_and_moves_the_ring(cast):
    customer = CustomerFactory()
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    bank_records_import(rows=[{"customer_no": "C9", "phone": "13800009999"}])
    follow = customer.follows.get()
    follow_set_remark_mobiles(follow=follow, mobiles=["138 0000 9999"])
    customer.refresh_from_db()
    assert customer.ring == Customer.Ring.OUTER and customer.is_verified
    result = bank_records_import(
        rows=[{"customer_no": "C9", "phone": "13800009999", "debit_card": "是"}]
    )
    assert (result.created, result.updated) == (0, 1)
    customer.refresh_from_db()
    assert customer.ring == Customer.Ring.INNER


def _run_queued_jobs() -> None:
    """What the worker does with each queued import job (the task, run in-process)."""
    for job_id in BankImportJob.objects.filter(status="queued").values_list("pk", flat=True):
        bank_import_run(job_id)


def test_xlsx_import_through_the_api_queues_a_job_with_counts_and_row_errors(cast):
    wb = Workbook()
    ws = wb.active
    ws.append(["客户号", "姓名", "手机号", "本行借记卡", "产品到期日"])
    ws.append(["X1", "张三", 13800001111, "是", "2026-06-30"])
    ws.append(["X2", "李四", "abc", "否", None])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "bank.xlsx"
    api = APIClient()
    api.force_authenticate(cast.ops_admin)
    response = api.post("/api/bank-records/import/", {"file": buf}, format="multipart")
    assert response.status_code == 202, response.content
    assert not BankRecord.objects.exists()  # nothing is imported inside the request
    _run_queued_jobs()
    body = api.get(response["Location"]).json()
    assert (body["status"], body["created"], body["error_count"]) == ("done", 1, 1)
    assert body["errors"][0]["line"] == 3
    assert body["errors"][0]["messages"] == ["手机号格式不正确：abc"]
    assert BankRecord.objects.get(customer_no="X1").has_debit_card


def test_json_rows_import_needs_permission(cast):
    api = APIClient()
    api.force_authenticate(cast.manager_a)
    response = api.post(
        "/api/bank-records/import/", {"rows": [{"customer_no": "J1"}]}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert not BankImportJob.objects.exists()
    api.force_authenticate(cast.ops)
    response = api.post(
        "/api/bank-records/import/", {"rows": [{"customer_no": "J1"}]}, format="json"
    )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    _run_queued_jobs()
    assert api.get(response["Location"]).json()["created"] == 1


def test_admin_preview_shows_row_errors_then_queues_the_import(cast, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(cast.ops_admin)
    url = reverse("admin:contacts_bankrecord_import")
    upload = SimpleUploadedFile("bank.csv", CSV.encode(), content_type="text/csv")
    page = client.post(url, {"file": upload}).content.decode()
    assert "可导入 3 行，错误 2 行" in page
    assert "手机号格式不正确：12345" in page
    assert not BankRecord.objects.exists()  # preview saves nothing
    file_id = client.session["bank_import_file"]["id"]
    response = client.post(url, {"confirm": file_id})
    job = BankImportJob.objects.get()
    assert response.url == reverse("admin:contacts_bankimportjob_change", args=[job.pk])
    assert (job.status, job.total, job.file_name) == ("queued", 5, "bank.csv")
    _run_queued_jobs()
    assert BankRecord.objects.count() == 3


def test_remark_mobile_match_verifies_with_a_timeline_entry(cast):
    """D4: matched customers are verified — the gate groups and campaigns use."""
    customer = CustomerFactory()
    FollowRelationFactory(customer=customer, staff=cast.staff_a)
    follow = customer.follows.get()
    follow_set_remark_mobiles(follow=follow, mobiles=["13800001111"])
    customer.refresh_from_db()
    assert not customer.is_verified  # no bank record yet
    result = bank_records_import(
        rows=[{"customer_no": "C1", "phone": "13800001111", "credit_card": "是"}]
    )
    assert result.matched == 1
    customer.refresh_from_db()
    assert customer.is_verified and customer.verify_method == "remark_mobile"
    assert customer.ring == Customer.Ring.MIDDLE
    assert customer.timeline.filter(kind="verified").count() == 1
    follow.refresh_from_db()
    assert follow.remark_mobiles == "13800001111"


def test_manager_binds_own_customer_but_not_someone_elses(cast):
    bank_records_import(
        rows=[{"customer_no": "B1", "phone": "13800001111", "debit_card": "1", "branch": "SZ-FT"}]
    )
    mine = CustomerFactory()
    FollowRelationFactory(customer=mine, staff=cast.staff_a)
    theirs = CustomerFactory()
    FollowRelationFactory(customer=theirs, staff=cast.staff_b)
    api = APIClient()
    api.force_authenticate(cast.manager_a)
    response = api.post(f"/api/customers/{mine.pk}/bind/", {"customer_no": "B1"}, format="json")
    assert response.status_code == 200 and response.json()["ring"] == "inner"
    mine.refresh_from_db()
    assert mine.verify_method == "manager_binding"
    assert mine.timeline.get(kind="verified").staff == cast.staff_a
    response = api.post(f"/api/customers/{theirs.pk}/bind/", {"phone": "13800001111"})
    assert response.status_code == 404
    another = CustomerFactory()
    FollowRelationFactory(customer=another, staff=cast.staff_a)
    response = api.post(f"/api/customers/{another.pk}/bind/", {"customer_no": "NOPE"})
    assert response.json()["code"] in ("bank_record_not_found",)


def test_customer_confirms_phone_on_h5_page(cast, client):
    bank_records_import(rows=[{"customer_no": "H1", "phone": "13800001111"}])
    customer = CustomerFactory()
    url = reverse("h5-verify", args=[customer_verify_link_token(customer=customer)])
    page = client.post(url, {"phone": "13900000000"}).content.decode()
    assert "未找到该手机号对应的行内客户" in page
    page = client.post(url, {"phone": "138-0000-1111"}).content.decode()
    assert 'id="verified"' in page
    customer.refresh_from_db()
    assert customer.verify_method == "h5_phone"
    assert client.get(reverse("h5-verify", args=["forged"])).status_code == 400


def test_h5_page_limits_attempts_per_link(cast, client):
    customer = CustomerFactory()
    url = reverse("h5-verify", args=[customer_verify_link_token(customer=customer)])
    for _ in range(5):
        client.post(url, {"phone": "13900000000"})
    page = client.post(url, {"phone": "13900000001"}).content.decode()
    assert "尝试次数过多" in page


@pytest.mark.parametrize("removed", [FollowRelation.Status.REMOVED_BY_CUSTOMER])
def test_removed_relation_does_not_verify(cast, removed):
    bank_records_import(rows=[{"customer_no": "R1", "phone": "13800001111"}])
    customer = CustomerFactory()
    follow = FollowRelationFactory(customer=customer, staff=cast.staff_a, status=removed)
    follow_set_remark_mobiles(follow=follow, mobiles=["13800001111"])
    customer.refresh_from_db()
    assert not customer.is_verified


def test_remark_mobiles_from_wecom_are_kept_encrypted_and_verify_the_customer(cast):
    from contacts.services import follow_relation_upsert

    bank_records_import(rows=[{"customer_no": "C77", "phone": "13800007777"}])
    customer = CustomerFactory()
    info = {"userid": cast.staff_a.userid, "remark": "张先生", "createtime": 1700000000}
    follow, _ = follow_relation_upsert(customer=customer, staff=cast.staff_a, info=info)
    assert follow.remark_mobiles == "" and not Customer.objects.get(pk=customer.pk).is_verified
    # A later payload (event or nightly sync) carries the manager's remark mobiles.
    follow, _ = follow_relation_upsert(
        customer=customer,
        staff=cast.staff_a,
        info={**info, "remark_mobiles": ["13900001234", "+86 138-0000-7777"]},
    )
    follow.refresh_from_db()
    assert follow.remark_mobiles == "13800007777,13900001234"
    assert set(follow.remark_mobile_hashes) == {
        phone_hash("13800007777"),
        phone_hash("13900001234"),
    }
    customer.refresh_from_db()
    assert customer.is_verified and customer.verify_method == Customer.VerifyMethod.REMARK_MOBILE
    # A payload without the field keeps them; an empty list clears them.
    follow_relation_upsert(customer=customer, staff=cast.staff_a, info=info)
    assert FollowRelation.objects.get(pk=follow.pk).remark_mobiles == "13800007777,13900001234"
    follow_relation_upsert(
        customer=customer, staff=cast.staff_a, info={**info, "remark_mobiles": []}
    )
    assert FollowRelation.objects.get(pk=follow.pk).remark_mobiles == ""


# --- files that cannot be read: a 400 with a message, never a 500 -------------------

# Neither UTF-8 nor GB18030: bytes GB18030 has no character for.
UNDECODABLE = "客户号,姓名\n".encode() + b"C1,\xff\xfe\x80\x80\n"
# One field past Python's csv field limit (131,072 characters).
OVERLONG = (HEADER + "C1," + "张" * 131_073 + ",13800001111\n").encode()


def test_a_csv_in_an_unknown_encoding_is_a_400_in_the_api(cast):
    upload = io.BytesIO(UNDECODABLE)
    upload.name = "bank.csv"
    api = APIClient()
    api.force_authenticate(cast.ops_admin)
    response = api.post("/api/bank-records/import/", {"file": upload}, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "file_encoding"
    assert "无法识别文件编码" in response.json()["message"]
    assert not BankImportJob.objects.exists()


def test_a_csv_row_that_cannot_be_read_fails_the_job_with_its_line(cast):
    upload = io.BytesIO(OVERLONG)
    upload.name = "bank.csv"
    api = APIClient()
    api.force_authenticate(cast.ops_admin)
    response = api.post("/api/bank-records/import/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    _run_queued_jobs()
    body = api.get(response["Location"]).json()
    assert body["status"] == "failed"
    assert "第 2 行无法读取" in body["error_message"]
    assert not BankRecord.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [(UNDECODABLE, "无法识别文件编码"), (OVERLONG, "第 2 行无法读取")],
    ids=["encoding", "overlong-field"],
)
def test_unreadable_csv_is_a_form_error_in_the_admin(cast, client, data, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(cast.ops_admin)
    url = reverse("admin:contacts_bankrecord_import")
    page = client.post(url, {"file": SimpleUploadedFile("bank.csv", data)})
    assert page.status_code == 200
    assert 'id="import-error"' in page.content.decode()
    assert message in page.content.decode()
    assert "bank_import_file" not in client.session


def test_a_damaged_xlsx_is_a_400_in_the_api(cast):
    upload = io.BytesIO(b"PK\x03\x04 not really a workbook")
    upload.name = "bank.xlsx"
    api = APIClient()
    api.force_authenticate(cast.ops_admin)
    response = api.post("/api/bank-records/import/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "file_unreadable"
