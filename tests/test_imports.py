"""Inventory imports through the portal: upload, staging, mapping review that teaches the
account, acceptance with per-row validation, failed-row export, templates, and refusals
that leave nothing behind."""
from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.db import set_tenant
from portal.models import AgentMemory, AgentTaskHistory, DataImport, ImportRow
from tests.conftest import csrf_token_from

GOOD = (
    "Server Name,IP Address,Operating System,CPU Cores,RAM (MB),Environment,Rack Slot\n"
    "web-01,10.0.0.1,Ubuntu 22.04,4,8192,prod,A1\n"
    "web-02,10.0.0.2,Ubuntu 22.04,4,8192,prod,A2\n"
    " WEB-01 ,10.0.0.3,Ubuntu 22.04,4,8192,prod,A3\n"
    "db-01,not-an-ip,Windows Server 2019,eight,16384,prod,B1\n"
    ",10.0.0.9,Windows Server 2019,2,4096,dev,C1\n"
    "evil-01,10.0.0.10,=HYPERLINK(\"http://x\"),2,4096,dev,C2\n"
)


@pytest.fixture
def engagement_ctx(people, login, client, db_session):
    """A member logged in, working in an engagement of their account."""
    account = people.account(name="Importers")
    engagement = people.engagement(account, "Wave 1")
    member = people.user("member", account)
    login(member)
    token = csrf_token_from(client.get("/engagements/").text)
    client.post("/engagements/switch", data={"engagement_id": str(engagement.id),
                                             "csrf_token": token})
    return account, engagement, member


def upload(client, content: bytes | str, filename: str = "inventory.csv", **headers):
    token = csrf_token_from(client.get("/imports/").text)
    data = content.encode() if isinstance(content, str) else content
    return client.post("/imports/upload", data={
        "csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data", headers=headers)


def the_import(db_session, account, filename: str | None = None) -> DataImport | None:
    """The account's import (by file name when a test uploads several: they share one
    transaction, hence one created_at)."""
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    query = select(DataImport).where(DataImport.client_account_id == account.id)
    if filename:
        query = query.where(DataImport.filename == filename)
    return db_session.scalars(query).first()


def test_upload_stages_every_row_and_suggests_a_mapping(client, engagement_ctx, db_session):
    account, engagement, _ = engagement_ctx
    response = upload(client, GOOD)
    assert response.status_code == 302 and "/review" in response.headers["Location"]
    data_import = the_import(db_session, account)
    assert data_import.total_rows == 6 and data_import.upload_status == "review"
    assert data_import.columns_detected[0] == "Server Name"
    assert db_session.scalar(select(func.count()).select_from(ImportRow).where(
        ImportRow.data_import_id == data_import.id)) == 6
    mapping = {m["source"]: (m["target"], m["unit"])
               for m in data_import.processed_data["mapping"]}
    assert mapping["IP Address"][0] == "ip_address"
    assert mapping["RAM (MB)"] == ("memory_gb", "MB")
    assert mapping["Rack Slot"][0] is None  # kept in specifications, never forced
    review = client.get(response.headers["Location"])
    assert review.status_code == 200
    assert 'id="mapping-table"' in review.text and 'id="preview"' in review.text
    assert "web-01" in review.text
    run = db_session.scalars(select(AgentTaskHistory).where(
        AgentTaskHistory.client_account_id == account.id)).first()
    assert run.task_type == "suggest_field_mappings" and run.task_result["columns"] == 7


def test_accept_validates_rows_and_exports_failures_safely(client, engagement_ctx, db_session):
    account, _, _ = engagement_ctx
    upload(client, GOOD)
    data_import = the_import(db_session, account)
    page = client.get(f"/imports/{data_import.id}/review")
    response = client.post(f"/imports/{data_import.id}/accept",
                           data={"csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 302
    db_session.refresh(data_import)
    assert data_import.upload_status == "validated"
    assert (data_import.valid_rows, data_import.invalid_rows) == (4, 2)
    assert data_import.processed_data["duplicate_names"] == 1  # "web-01" and " WEB-01 "
    reasons = {(e["row"], e["column"]) for e in data_import.validation_errors}
    assert (5, "IP Address") in reasons and (5, "CPU Cores") in reasons
    assert any(e["row"] == 6 and e["field"] == "name" for e in data_import.validation_errors)
    detail = client.get(f"/imports/{data_import.id}")
    table = detail.text.split('id="validation-errors"', 1)[1]
    assert "IP Address" in table and "CPU Cores" in table
    exported = client.get(f"/imports/{data_import.id}/errors.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][0] == "row" and rows[0][-1] == "reason"
    assert [r[0] for r in rows[1:]] == ["5", "6"]
    assert "IP Address" in rows[1][-1]


def test_formula_cells_are_neutralised_in_exports(client, engagement_ctx, db_session):
    account, _, _ = engagement_ctx
    rows = "".join(f"web-{i},10.0.0.{i}\n" for i in range(1, 6))
    upload(client, f"Server Name,IP Address\n{rows}=cmd|' /C calc'!A0,not-an-ip\n")
    data_import = the_import(db_session, account)
    exported = client.get(f"/imports/{data_import.id}/errors.csv").get_data(as_text=True)
    cells = list(csv.reader(io.StringIO(exported)))[1]
    assert cells[1] == "'=cmd|' /C calc'!A0"


def test_all_or_nothing_rejects_the_import_when_a_row_fails(client, engagement_ctx,
                                                           db_session):
    account, _, _ = engagement_ctx
    upload(client, GOOD)
    data_import = the_import(db_session, account)
    page = client.get(f"/imports/{data_import.id}/review")
    client.post(f"/imports/{data_import.id}/accept", data={
        "csrf_token": csrf_token_from(page.text), "all_or_nothing": "y"})
    db_session.refresh(data_import)
    assert data_import.upload_status == "rejected"


def test_a_correction_teaches_this_account_only(client, engagement_ctx, db_session, people,
                                                app):
    account, _, _ = engagement_ctx
    content = "Box,Addr\nweb-01,10.0.0.1\n"
    upload(client, content)
    data_import = the_import(db_session, account)
    before = {m["source"]: m["target"] for m in data_import.processed_data["mapping"]}
    assert before["Box"] != "name"
    page = client.get(f"/imports/{data_import.id}/review")
    response = client.post(f"/imports/{data_import.id}/mapping", data={
        "csrf_token": csrf_token_from(page.text), "source": "Box", "target": "name",
        "unit": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="mapping-review"' in response.text
    memory = db_session.scalars(select(AgentMemory).where(
        AgentMemory.client_account_id == account.id)).one()
    assert memory.memory_content["target"] == "name" and memory.memory_type == "feedback"
    upload(client, content, "again.csv")
    again = the_import(db_session, account, "again.csv")
    learned = {m["source"]: (m["target"], m["method"]) for m in again.processed_data["mapping"]}
    assert learned["Box"] == ("name", "learned")

    other = people.account(name="Unaffected")
    engagement = people.engagement(other, "Other wave")
    stranger = people.user("member", other)
    browser = app.test_client()
    token = csrf_token_from(browser.get("/login").text)
    browser.post("/login", data={"email": stranger.email, "password": "correct horse battery staple",
                                 "csrf_token": token})
    token = csrf_token_from(browser.get("/engagements/").text)
    browser.post("/engagements/switch", data={"engagement_id": str(engagement.id),
                                              "csrf_token": token})
    upload(browser, content)
    theirs = the_import(db_session, other)
    assert {m["source"]: m["target"] for m in theirs.processed_data["mapping"]}["Box"] != "name"


@pytest.mark.parametrize("content, filename, message", [
    (b"\x00\x01\x02\xff" * 500, "junk.csv", "text"),
    (b"", "empty.csv", "empty"),
    (b"name,ip\n", "header-only.csv", "no data rows"),
    (b"name,ip\nweb,10.0.0.1\n", "inventory.exe", "CSV, TSV, XLSX or JSON"),
])
def test_bad_files_are_refused_and_leave_nothing(client, engagement_ctx, db_session, settings,
                                                 content, filename, message):
    account, _, _ = engagement_ctx
    response = upload(client, content, filename)
    assert response.status_code == 400
    assert message in response.text
    assert the_import(db_session, account) is None
    folder = settings.instance_path / "uploads" / str(account.id)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_oversized_upload_gets_413(client, engagement_ctx, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    token = csrf_token_from(client.get("/imports/").text)
    # The multipart body is built here as bytes (the test client would spool a large one
    # to a temporary file it never closes when the request is refused).
    body = (b"--b\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
            + token.encode() + b"\r\n--b\r\nContent-Disposition: form-data; name=\"file\";"
            b" filename=\"big.csv\"\r\n\r\n" + b"a" * (limit + 1) + b"\r\n--b--\r\n")
    response = client.post("/imports/upload", data=body,
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    assert "larger than this portal accepts" in response.text


def test_stored_file_never_uses_the_users_file_name(client, engagement_ctx, db_session):
    account, _, _ = engagement_ctx
    upload(client, GOOD, "../../../../tmp/evil.csv")
    data_import = the_import(db_session, account)
    assert data_import.filename == "../../../../tmp/evil.csv"  # kept as text only
    assert re.search(r"/uploads/[0-9a-f-]{36}/[0-9a-f]{32}\.csv$", data_import.file_path)


def test_viewers_read_but_cannot_upload_or_change(client, people, login, db_session):
    account = people.account()
    engagement = people.engagement(account)
    login(people.user("viewer", account))
    token = csrf_token_from(client.get("/engagements/").text)
    client.post("/engagements/switch", data={"engagement_id": str(engagement.id),
                                             "csrf_token": token})
    page = client.get("/imports/")
    assert page.status_code == 200 and "Upload and map" not in page.text
    assert upload(client, GOOD).status_code == 403


def test_another_tenants_import_is_404(client, engagement_ctx, db_session, people):
    other = people.account()
    other_engagement = people.engagement(other)
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=other.id))
    foreign = DataImport(client_account_id=other.id, engagement_id=other_engagement.id,
                         filename="theirs.csv")
    db_session.add(foreign)
    db_session.flush()
    for path in ("", "/review", "/errors.csv"):
        assert client.get(f"/imports/{foreign.id}{path}").status_code == 404


def test_templates_list_every_canonical_field(client, engagement_ctx):
    from portal.discovery.fields import FIELDS
    names = [f.name for f in FIELDS]
    text_csv = client.get("/imports/template.csv")
    assert next(csv.reader(io.StringIO(text_csv.get_data(as_text=True)))) == names
    workbook = load_workbook(io.BytesIO(client.get("/imports/template.xlsx").data),
                             read_only=True)
    assert [c.value for c in next(workbook.active.iter_rows())] == names
    workbook.close()


def test_rows_go_with_their_import(client, engagement_ctx, db_session):
    account, _, _ = engagement_ctx
    upload(client, GOOD)
    data_import = the_import(db_session, account)
    db_session.delete(data_import)
    db_session.flush()
    assert db_session.scalar(select(func.count()).select_from(ImportRow).where(
        ImportRow.data_import_id == data_import.id)) == 0


def test_zip_bomb_upload_gets_413_and_leaves_nothing(client, engagement_ctx, db_session,
                                                     settings):
    import zipfile
    account, _, _ = engagement_ctx
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 1024 * 1024))
    response = upload(client, buffer.getvalue(), "bomb.xlsx")
    assert response.status_code == 413 and "zip bomb" in response.text
    assert the_import(db_session, account) is None
    assert list((settings.instance_path / "uploads" / str(account.id)).iterdir()) == []
