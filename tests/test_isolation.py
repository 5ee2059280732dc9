"""Tenant isolation enforced by PostgreSQL itself: these tests connect as `portal_app`
(not superuser, not owner), so row-level security is really in force."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import text

from portal.config import APP_ROLE
from portal.db import NO_TENANT, TenantContext, app_role_url, make_engine, make_session_factory
from tests.conftest import _conninfo

# Every tenant-scoped table, with the SQL that inserts one row of it for a tenant.
# Parameters: c = client account, e = engagement, u = user, f = master flow id,
# a = asset, i = import, x = the new row's id.
ROWS = {
    "engagements": "INSERT INTO engagements (id, client_account_id, name, slug) "
                   "VALUES (%(e)s, %(c)s, 'E', %(x)s::text)",
    "user_account_associations": "INSERT INTO user_account_associations "
                                 "(id, user_id, client_account_id, role) "
                                 "VALUES (%(x)s, %(u)s, %(c)s, 'member')",
    "master_flows": "INSERT INTO master_flows (id, flow_id, client_account_id, engagement_id, "
                    "user_id, flow_type, flow_name) "
                    "VALUES (%(x)s, %(f)s, %(c)s, %(e)s, 'u', 'discovery', 'F')",
    "discovery_flows": "INSERT INTO discovery_flows (id, flow_id, master_flow_id, "
                       "client_account_id, engagement_id, user_id, flow_name, data_import_id) "
                       "VALUES (%(x)s, %(x)s, %(f)s, %(c)s, %(e)s, 'u', 'D', %(i)s)",
    "collection_flows": "INSERT INTO collection_flows (id, client_account_id, engagement_id, "
                        "user_id, flow_name) VALUES (%(x)s, %(c)s, %(e)s, %(u)s, 'C')",
    "assessment_flows": "INSERT INTO assessment_flows (id, flow_id, master_flow_id, "
                        "client_account_id, engagement_id, user_id, flow_name) "
                        "VALUES (%(x)s, %(x)s, %(f)s, %(c)s, %(e)s, 'u', 'A')",
    "data_imports": "INSERT INTO data_imports (id, client_account_id, engagement_id, filename) "
                    "VALUES (%(i)s, %(c)s, %(e)s, 'inventory.csv')",
    "assets": "INSERT INTO assets (id, client_account_id, engagement_id, asset_name) "
              "VALUES (%(a)s, %(c)s, %(e)s, 'srv-01')",
    "agent_memory": "INSERT INTO agent_memory (id, client_account_id, agent_type, "
                    "memory_content) VALUES (%(x)s, %(c)s, 'field_mapping', '{}')",
    "agent_task_history": "INSERT INTO agent_task_history (id, client_account_id, agent_name, "
                          "task_type, started_at) VALUES (%(x)s, %(c)s, 'a', 't', now())",
    "sixr_analysis": "INSERT INTO sixr_analysis (id, client_account_id, engagement_id, "
                     "asset_id, primary_recommendation, confidence_score) "
                     "VALUES (%(x)s, %(c)s, %(e)s, %(a)s, 'rehost', 0.8)",
}
TABLES = list(ROWS)
_count_assets = text("SELECT count(*) FROM assets")
_backend_pid = text("SELECT pg_backend_pid()")


@dataclass
class Tenant:
    client: uuid.UUID
    engagement: uuid.UUID
    user: uuid.UUID


def _insert_tenant(conn, name: str) -> Tenant:
    tenant = Tenant(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    conn.execute("INSERT INTO client_accounts (id, name, slug) VALUES (%s, %s, %s)",
                 (tenant.client, name, f"{name}-{tenant.client.hex[:6]}"))
    conn.execute("INSERT INTO users (id, email, email_hash) VALUES (%s, 'x', %s)",
                 (tenant.user, tenant.user.hex))
    params = {"c": tenant.client, "e": tenant.engagement, "u": tenant.user,
              "f": uuid.uuid4(), "a": uuid.uuid4(), "i": uuid.uuid4()}
    order = ["engagements", "user_account_associations", "master_flows", "data_imports",
             "discovery_flows", "collection_flows", "assessment_flows", "assets",
             "agent_memory", "agent_task_history", "sixr_analysis"]
    for table in order:
        conn.execute(ROWS[table], params | {"x": uuid.uuid4()})
    return tenant


@pytest.fixture(scope="module")
def tenants(admin_url):
    """Two tenants with a row in every tenant table, written as superuser (committed)."""
    with psycopg.connect(_conninfo(admin_url)) as conn:
        a, b = _insert_tenant(conn, "alpha"), _insert_tenant(conn, "beta")
        conn.commit()
        conn.execute("SELECT refresh_engagement_summary()")
        conn.commit()
    return a, b


@pytest.fixture
def app_conn(admin_url):
    """A psycopg connection as portal_app."""
    with psycopg.connect(_conninfo(app_role_url(admin_url, None))) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == APP_ROLE
        yield conn


def as_tenant(conn, tenant: Tenant | None) -> None:
    conn.execute("SELECT set_config('app.current_client_id', %s, true)",
                 (str(tenant.client) if tenant else "",))


@pytest.mark.parametrize("table", TABLES)
def test_tenant_sees_only_its_own_rows(app_conn, tenants, table):
    a, b = tenants
    as_tenant(app_conn, a)
    clients = {row[0] for row in app_conn.execute(f"SELECT client_account_id FROM {table}")}
    assert clients == {a.client}


@pytest.mark.parametrize("table", TABLES)
def test_no_tenant_means_no_rows(app_conn, tenants, table):
    as_tenant(app_conn, None)
    assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    app_conn.rollback()  # outside any transaction, the setting reads as unset
    assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


@pytest.mark.parametrize("table", TABLES)
def test_cannot_update_or_delete_another_tenants_rows(app_conn, tenants, table):
    a, b = tenants
    as_tenant(app_conn, a)
    updated = app_conn.execute(
        f"UPDATE {table} SET client_account_id = client_account_id "
        "WHERE client_account_id = %s", (b.client,)).rowcount
    deleted = app_conn.execute(
        f"DELETE FROM {table} WHERE client_account_id = %s", (b.client,)).rowcount
    assert (updated, deleted) == (0, 0)
    app_conn.rollback()


@pytest.mark.parametrize("table", TABLES)
def test_cannot_insert_rows_for_another_tenant(app_conn, tenants, table):
    a, b = tenants
    as_tenant(app_conn, a)
    params = {"c": b.client, "e": b.engagement, "u": b.user, "f": uuid.uuid4(),
              "a": uuid.uuid4(), "i": uuid.uuid4(), "x": uuid.uuid4()}
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        app_conn.execute(ROWS[table], params)
    app_conn.rollback()


@pytest.mark.parametrize("table", TABLES)
def test_cannot_move_own_rows_into_another_tenant(app_conn, tenants, table):
    a, b = tenants
    as_tenant(app_conn, a)
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        app_conn.execute(f"UPDATE {table} SET client_account_id = %s", (b.client,))
    app_conn.rollback()


def test_audit_log_is_per_tenant_and_read_only(app_conn, tenants):
    a, b = tenants
    as_tenant(app_conn, a)
    clients = {r[0] for r in app_conn.execute("SELECT client_account_id FROM audit_log")}
    assert clients == {a.client}
    for statement in ("UPDATE audit_log SET operation = 'X'", "DELETE FROM audit_log",
                      "TRUNCATE audit_log",
                      "INSERT INTO audit_log (table_name, record_id, operation) "
                      "VALUES ('assets', gen_random_uuid(), 'INSERT')"):
        with pytest.raises(errors.InsufficientPrivilege):
            app_conn.execute(statement)
        app_conn.rollback()
        as_tenant(app_conn, a)


def test_engagement_summary_shows_only_the_current_tenant(app_conn, tenants):
    a, b = tenants
    as_tenant(app_conn, a)
    rows = app_conn.execute(
        "SELECT client_account_id, assets_count FROM engagement_summary_current").fetchall()
    assert rows == [(a.client, 1)]
    as_tenant(app_conn, None)
    assert app_conn.execute("SELECT count(*) FROM engagement_summary_current").fetchone()[0] == 0
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute("SELECT * FROM engagement_summary")
    app_conn.rollback()


def test_app_role_can_refresh_the_summary_for_all_tenants(app_conn, tenants, admin_url):
    a, b = tenants
    as_tenant(app_conn, a)
    app_conn.execute("SELECT refresh_engagement_summary()")
    app_conn.commit()
    with psycopg.connect(_conninfo(admin_url)) as admin:
        counted = {r[0] for r in admin.execute("SELECT client_account_id FROM engagement_summary")}
    assert {a.client, b.client} <= counted


def test_pooled_connection_does_not_leak_the_previous_tenant(admin_url, tenants):
    a, b = tenants
    engine = make_engine(app_role_url(admin_url, None), pool_size=1, max_overflow=0)
    factory = make_session_factory(engine)
    try:
        with factory(info={"tenant": TenantContext(client_id=a.client)}) as session:
            assert session.execute(_count_assets).scalar() == 1
            session.commit()
        # Same pooled connection, no tenant: no error from ''::uuid, and no rows.
        with factory(info={"tenant": NO_TENANT}) as session:
            assert session.execute(_count_assets).scalar() == 0
            pid_b = session.execute(_backend_pid).scalar()
        with factory() as session:  # no context at all behaves the same
            assert session.execute(_count_assets).scalar() == 0
            assert session.execute(_backend_pid).scalar() == pid_b
    finally:
        engine.dispose()


def test_users_and_accounts_are_visible_only_through_membership(app_conn, tenants):
    a, b = tenants
    app_conn.execute("SELECT set_config('app.current_user_id', %s, true)", (str(a.user),))
    accounts = {r[0] for r in app_conn.execute("SELECT id FROM client_accounts")}
    users = {r[0] for r in app_conn.execute("SELECT id FROM users")}
    assert accounts == {a.client} and users == {a.user}
    app_conn.rollback()
    assert app_conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    assert app_conn.execute("SELECT count(*) FROM client_accounts").fetchone()[0] == 0


def test_foreign_keys_cannot_point_at_another_tenants_engagement(app_conn, tenants):
    a, b = tenants
    as_tenant(app_conn, a)
    with pytest.raises(errors.ForeignKeyViolation):
        app_conn.execute("INSERT INTO assets (client_account_id, engagement_id, asset_name) "
                         "VALUES (%s, %s, 'sneaky')", (a.client, b.engagement))
    app_conn.rollback()
