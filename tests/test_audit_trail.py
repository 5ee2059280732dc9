"""Changes made through the portal land in the audit log with who made them and in which
account, and the application role cannot rewrite that history."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from portal.db import set_tenant
from portal.models import AuditLog, Engagement
from tests.conftest import csrf_token_from


def test_create_update_delete_are_recorded_with_user_and_account(client, login, people,
                                                                  db_session):
    account = people.account(name="Audited")
    admin = people.user("admin", account)
    leaving = people.user("member", account)
    login(admin)
    token = csrf_token_from(client.get("/engagements/new").text)
    base = {"csrf_token": token, "engagement_type": "migration", "status": "active",
            "priority": "medium", "engagement_lead_id": "", "lock_version": "1"}
    assert client.post("/engagements/new", data=base | {
        "name": "Audit me", "slug": "audit-me"}).status_code == 302
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    engagement = db_session.scalar(select(Engagement).where(Engagement.slug == "audit-me"))
    assert client.post(f"/engagements/{engagement.id}/edit", data=base | {
        "name": "Audited twice"}).status_code == 302
    assert client.post(f"/members/{leaving.id}/remove",
                       data={"csrf_token": token}).status_code == 302

    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    entries = db_session.scalars(select(AuditLog).where(
        AuditLog.user_id == admin.id).order_by(AuditLog.timestamp, AuditLog.id)).all()
    changes = [e for e in entries if e.table_name in ("engagements",
                                                       "user_account_associations")]
    assert {(e.table_name, e.operation) for e in changes} >= {
        ("engagements", "INSERT"), ("engagements", "UPDATE"),
        ("user_account_associations", "DELETE")}
    assert {e.client_account_id for e in changes} == {account.id}
    update = next(e for e in changes if (e.table_name, e.operation) == ("engagements", "UPDATE"))
    assert update.old_values["name"] == "Audit me"
    assert update.new_values["name"] == "Audited twice"
    removal = next(e for e in changes if e.operation == "DELETE")
    assert removal.old_values["user_id"] == str(leaving.id)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET operation = 'FORGED'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "SELECT record_auth_event('FORGED', NULL, NULL, '{}')",
])
def test_the_application_role_cannot_rewrite_history(db_session, statement):
    assert db_session.scalar(text("SELECT current_user")) == "portal_app"
    with pytest.raises(ProgrammingError) as error:
        with db_session.begin_nested():
            db_session.execute(text(statement))
    assert "permission denied" in str(error.value) or "unknown authentication event" in \
        str(error.value)
