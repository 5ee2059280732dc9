"""Flow pages: starting discovery from an import in one click, the live page, actions."""
from __future__ import annotations

import io

from sqlalchemy import select

from portal.db import set_tenant
from portal.models import DataImport, MasterFlow
from tests.conftest import csrf_token_from

CSV = "Server Name,IP Address\nweb-01,10.0.0.1\nweb-02,10.0.0.2\n"


def _in_engagement(client, people, login, role="member"):
    account = people.account(name="Flowing")
    engagement = people.engagement(account, "Wave")
    login(people.user(role, account))
    token = csrf_token_from(client.get("/engagements/").text)
    client.post("/engagements/switch", data={"engagement_id": str(engagement.id),
                                             "csrf_token": token})
    return account, token


def _upload(client, db_session, account, token):
    client.post("/imports/upload", data={"csrf_token": token,
                                         "file": (io.BytesIO(CSV.encode()), "inv.csv")},
                content_type="multipart/form-data")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    return db_session.scalars(select(DataImport).where(
        DataImport.client_account_id == account.id)).one()


def test_one_click_starts_a_discovery_flow_with_a_live_page(client, people, login,
                                                            db_session):
    account, token = _in_engagement(client, people, login)
    data_import = _upload(client, db_session, account, token)
    detail = client.get(f"/imports/{data_import.id}")
    assert 'id="start-discovery"' in detail.text
    response = client.post("/flows/discovery", data={"csrf_token": token,
                                                     "import_id": str(data_import.id)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and 'id="phase-stepper"' in page.text
    assert "Field mapping" in page.text
    live = client.get(response.headers["Location"], headers={"HX-Request": "true"})
    assert live.text.lstrip().startswith('<div id="flow-live" hx-get=')  # polls while live
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    master = db_session.scalars(select(MasterFlow).where(
        MasterFlow.client_account_id == account.id)).one()
    assert master.flow_config["import_id"] == str(data_import.id)
    cancelled = client.post(f"/flows/{master.flow_id}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 302
    db_session.refresh(master)
    assert master.flow_status == "cancelled"
    final = client.get(f"/flows/{master.flow_id}", headers={"HX-Request": "true"})
    assert "hx-trigger" not in final.text.split(">", 1)[0]  # polling stops when it ends
    illegal = client.post(f"/flows/{master.flow_id}/resume", data={"csrf_token": token})
    assert illegal.status_code == 400


def test_viewers_cannot_start_or_drive_flows_and_strangers_get_404(client, people, login,
                                                                   db_session, app):
    account, token = _in_engagement(client, people, login, role="viewer")
    assert client.post("/flows/discovery", data={"csrf_token": token,
                                                 "import_id": str(account.id)}).status_code == 403
    import uuid
    assert client.get(f"/flows/{uuid.uuid4()}").status_code == 404
