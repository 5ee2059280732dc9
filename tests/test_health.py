"""/healthz and /readyz."""
from __future__ import annotations

import uuid

from portal.db import set_tenant
from portal.models import DiscoveryFlow, MasterFlow


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_reports_each_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ready"
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]
    assert body["checks"]["flow_consistency"] == {"ok": True, "mismatches": 0}


def test_readyz_fails_when_master_and_child_flow_disagree(client, people, db_session):
    account = people.account()
    engagement = people.engagement(account)
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    flow_id = uuid.uuid4()
    common = {"client_account_id": account.id, "engagement_id": engagement.id, "user_id": "t"}
    db_session.add(MasterFlow(flow_id=flow_id, flow_type="discovery", flow_name="f",
                              flow_status="completed", **common))
    db_session.flush()
    db_session.add(DiscoveryFlow(flow_id=uuid.uuid4(), master_flow_id=flow_id, flow_name="f",
                                 status="active", **common))
    db_session.flush()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["flow_consistency"] == {"ok": False, "mismatches": 1}
