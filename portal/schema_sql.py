"""Hand-written DDL that autogenerate does not see: row-level security, grants, triggers.

Migrations call these helpers with explicit table names, so every tenant-scoped table is
protected the same way.  The SQL they emit is frozen into history by the migrations that
call them: change a helper only in ways that are safe to re-run for old migrations.
"""
from __future__ import annotations

from portal.config import APP_ROLE
from portal.models.base import CURRENT_CLIENT

PLATFORM_ADMIN = "(SELECT current_setting('app.platform_admin', true) = 'on')"
CURRENT_USER = "(SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid)"
LOGIN_EMAIL_HASH = "(SELECT NULLIF(current_setting('app.login_email_hash', true), ''))"

FUNCTIONS = [
    """
    CREATE FUNCTION update_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.updated_at = now();
        RETURN NEW;
    END $$""",
    # Row-level audit.  SECURITY DEFINER: the application role has no INSERT on audit_log,
    # only the owner's trigger writes it.  Trigger arguments name columns never to copy
    # (secrets, ciphertext).
    f"""
    CREATE FUNCTION audit_row_change() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    DECLARE
        redacted text[] := COALESCE(TG_ARGV, '{{}}');  -- TG_ARGV is NULL without arguments
        old_row jsonb := to_jsonb(OLD) - redacted;
        new_row jsonb := to_jsonb(NEW) - redacted;
        any_row jsonb := COALESCE(new_row, old_row);
    BEGIN
        INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values,
                               user_id, client_account_id)
        VALUES (TG_TABLE_NAME, (any_row->>'id')::uuid, TG_OP, old_row, new_row,
                {CURRENT_USER},
                COALESCE((any_row->>'client_account_id')::uuid,
                         CASE WHEN TG_TABLE_NAME = 'client_accounts'
                              THEN (any_row->>'id')::uuid END,
                         {CURRENT_CLIENT}));
        RETURN NULL;
    END $$""",
    # Statement-level audit for high-volume tables: one set-based insert per statement,
    # reading the transition tables, instead of one trigger call per row.
    f"""
    CREATE FUNCTION audit_statement_change() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO audit_log (table_name, record_id, operation, new_values, user_id,
                                   client_account_id)
            SELECT TG_TABLE_NAME, n.id, TG_OP, to_jsonb(n), {CURRENT_USER}, n.client_account_id
            FROM new_rows n;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values,
                                   user_id, client_account_id)
            SELECT TG_TABLE_NAME, n.id, TG_OP, to_jsonb(o), to_jsonb(n), {CURRENT_USER},
                   n.client_account_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id;
        ELSE
            INSERT INTO audit_log (table_name, record_id, operation, old_values, user_id,
                                   client_account_id)
            SELECT TG_TABLE_NAME, o.id, TG_OP, to_jsonb(o), {CURRENT_USER}, o.client_account_id
            FROM old_rows o;
        END IF;
        RETURN NULL;
    END $$""",
]



def updated_at_trigger(table: str) -> str:
    return (f"CREATE TRIGGER update_{table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION update_updated_at()")


def row_audit_trigger(table: str, redact: tuple[str, ...] = ()) -> str:
    args = ", ".join(f"'{column}'" for column in redact)
    return (f"CREATE TRIGGER audit_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION audit_row_change({args})")


def statement_audit_triggers(table: str) -> list[str]:
    # A trigger with transition tables may have only one event, hence three.
    return [
        f"CREATE TRIGGER audit_{table}_insert AFTER INSERT ON {table} "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION audit_statement_change()",
        f"CREATE TRIGGER audit_{table}_update AFTER UPDATE ON {table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION audit_statement_change()",
        f"CREATE TRIGGER audit_{table}_delete AFTER DELETE ON {table} "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION audit_statement_change()",
    ]


def enable_rls(table: str) -> list[str]:
    """RLS on and forced (so even the owner role is filtered)."""
    return [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"]


def tenant_table(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> list[str]:
    """A tenant-scoped table: one policy for reads and writes, and the app role's grants."""
    return [
        *enable_rls(table),
        f"CREATE POLICY tenant_isolation ON {table} USING (client_account_id = {CURRENT_CLIENT})"
        f" WITH CHECK (client_account_id = {CURRENT_CLIENT})",
        f"GRANT {privileges} ON {table} TO {APP_ROLE}",
    ]


def platform_admin_policy(table: str, command: str = "ALL") -> str:
    check = f" WITH CHECK ({PLATFORM_ADMIN})" if command in ("ALL", "UPDATE") else ""
    return (f"CREATE POLICY platform_admin ON {table} FOR {command} TO {APP_ROLE} "
            f"USING ({PLATFORM_ADMIN}){check}")
