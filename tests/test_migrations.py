"""The schema: migrations both ways, no drift, and the catalog facts RLS depends on."""
from __future__ import annotations

import psycopg
import pytest

from portal import migrate
from tests.conftest import _conninfo


@pytest.fixture(scope="module")
def catalog(admin_url):
    with psycopg.connect(_conninfo(admin_url)) as conn:
        yield conn


def test_upgrade_downgrade_upgrade_on_an_empty_database(create_database):
    url = create_database()
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    with psycopg.connect(_conninfo(url)) as conn:
        leftovers = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm') "
            "AND c.relname <> 'alembic_version'").fetchall()
        functions = conn.execute(
            "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public'").fetchall()
    assert leftovers == [] and functions == []
    migrate.upgrade(url)
    migrate.check(url)


def test_models_and_migrations_agree(admin_url):
    migrate.check(admin_url)  # raises on any drift (alembic check)


def tenant_tables(conn) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'client_account_id' "
        "AND NOT a.attisdropped ORDER BY 1")]


def test_every_tenant_table_has_rls_enabled_and_forced(catalog):
    tables = tenant_tables(catalog)
    assert "assets" in tables and "audit_log" in tables and len(tables) >= 12
    flags = dict((name, (rls, force)) for name, rls, force in catalog.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relname = ANY(%s)", (tables,)))
    assert {t: f for t, f in flags.items() if f != (True, True)} == {}


def test_no_policy_lets_every_row_through(catalog):
    permissive = catalog.execute(
        "SELECT tablename, policyname FROM pg_policies "
        "WHERE schemaname = 'public' AND (qual = 'true' OR "
        "(with_check = 'true' AND NOT roles @> ARRAY['portal_owner']::name[]))").fetchall()
    assert permissive == []


def test_tenant_policy_uses_nullif_and_a_subselect(catalog):
    quals = catalog.execute(
        "SELECT tablename, qual FROM pg_policies WHERE policyname = 'tenant_isolation'"
    ).fetchall()
    assert len(quals) >= 11
    for table, qual in quals:
        assert "NULLIF(current_setting('app.current_client_id'::text, true), ''::text)" in qual
        assert "SELECT" in qual, table


def test_app_role_is_least_privileged(catalog):
    superuser, bypass, createrole, createdb = catalog.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
        "WHERE rolname = 'portal_app'").fetchone()
    assert (superuser, bypass, createrole, createdb) == (False, False, False, False)
    owned = catalog.execute(
        "SELECT relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = 'portal_app'").fetchall()
    assert owned == []
    owner_attrs = catalog.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'portal_owner'").fetchone()
    assert owner_attrs == (False, False)


def test_app_role_cannot_change_the_audit_log(catalog):
    privileges = catalog.execute(
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = 'portal_app' AND table_name = 'audit_log'").fetchall()
    assert [p for (p,) in privileges] == ["SELECT"]


def test_updated_at_trigger_on_every_table_with_the_column(catalog):
    missing = catalog.execute(
        "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'updated_at' "
        "AND NOT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "  WHERE t.tgrelid = c.oid AND p.proname = 'update_updated_at')").fetchall()
    assert missing == []


# Not audited row by row, on purpose: the log itself, raw import rows (immutable copies
# of an uploaded file, up to millions per import; their data_imports row is audited) and a
# discovery flow's cleansed records (working data between its phases, deleted when it
# completes; the assets they become are audited).
UNAUDITED = {"audit_log", "import_rows", "cleansed_records"}


def test_audit_trigger_on_every_tenant_table(catalog):
    unaudited = [table for table in tenant_tables(catalog) if table not in UNAUDITED and not
                 catalog.execute(
                     "SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                     "WHERE t.tgrelid = %s::regclass AND p.proname LIKE 'audit_%%'",
                     (table,)).fetchone()]
    assert unaudited == []
    statement_level = catalog.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'assets'::regclass "
        "AND tgname LIKE 'audit_assets_%' AND (tgtype & 1) = 0").fetchone()[0]
    assert statement_level == 3  # insert, update and delete, each FOR EACH STATEMENT


def test_seed_indexes_exist(catalog):
    expected = {"idx_active_discovery_flows", "idx_assets_specifications_gin",
                "idx_flow_config_gin", "idx_assets_tenant_type",
                "idx_discovery_flows_tenant_status", "idx_engagement_summary_client",
                "idx_agent_tasks_started", "idx_sixr_analysis_confidence"}
    present = {row[0] for row in catalog.execute("SELECT indexname FROM pg_indexes")}
    assert expected <= present
    partial = catalog.execute("SELECT indexdef FROM pg_indexes "
                              "WHERE indexname = 'idx_active_discovery_flows'").fetchone()[0]
    assert "WHERE" in partial and "active" in partial
