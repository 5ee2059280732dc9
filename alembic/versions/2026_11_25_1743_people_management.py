"""People management: invitations, session generations, optimistic-locking versions, and
authentication events in the audit log.

Revision ID: f4d485f6808c
Revises: 99428587cc36
Create Date: 2026-11-25 17:43:22.231726
"""
from alembic import op
import sqlalchemy as sa

from portal.config import APP_ROLE, SUMMARY_ROLE
from portal.schema_sql import row_audit_trigger, tenant_table


revision = 'f4d485f6808c'
down_revision = '99428587cc36'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invitations',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_invitations_client_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_invitations_created_by'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('invitations_pkey')),
    sa.UniqueConstraint('token_hash', name='invitations_token_hash_unique')
    )
    op.create_index('idx_invitations_client', 'invitations', ['client_account_id'], unique=False)
    op.create_index('idx_invitations_user', 'invitations', ['user_id'], unique=False)
    op.drop_index(op.f('idx_audit_log_time'), table_name='audit_log')
    op.create_index('idx_audit_log_time', 'audit_log', [sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('idx_audit_log_tenant_user_time', 'audit_log', ['client_account_id', 'user_id', sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('idx_audit_log_tenant_table_time', 'audit_log', ['client_account_id', 'table_name', sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')], unique=False)
    op.add_column('client_accounts', sa.Column('lock_version', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.add_column('engagements', sa.Column('lock_version', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.add_column('users', sa.Column('session_generation', sa.Integer(), server_default=sa.text('0'), nullable=False))
    for statement in [
        *tenant_table("invitations", "SELECT, INSERT, UPDATE, DELETE"),
        # Redeeming a link happens before anyone is logged in: only the row whose token hash
        # the transaction names is visible (and may be marked used).
        "CREATE POLICY redeem_invitation ON invitations FOR SELECT USING (token_hash = "
        "(SELECT NULLIF(current_setting('app.invitation_token_hash', true), '')))",
        "CREATE POLICY use_invitation ON invitations FOR UPDATE USING (token_hash = "
        "(SELECT NULLIF(current_setting('app.invitation_token_hash', true), '')))",
        row_audit_trigger("invitations", ("token_hash",)),
        AUTH_EVENT_FUNCTION,
        # Account admins may deactivate a user only when no other account would lose them;
        # they cannot see other accounts' memberships, so a function counts them.
        f"GRANT SELECT ON user_account_associations TO {SUMMARY_ROLE}",
        MEMBERSHIPS_ELSEWHERE_FUNCTION,
        f"ALTER FUNCTION memberships_elsewhere(uuid) OWNER TO {SUMMARY_ROLE}",
        "REVOKE ALL ON FUNCTION memberships_elsewhere(uuid) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION memberships_elsewhere(uuid) TO {APP_ROLE}",
        "REVOKE ALL ON FUNCTION record_auth_event(text, uuid, uuid, jsonb) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION record_auth_event(text, uuid, uuid, jsonb) TO {APP_ROLE}",
    ]:
        op.execute(statement)


# Logins, failed logins and logouts go into the audit log beside data changes.  The app
# role may add only these events, through this function; it still cannot write the log.
AUTH_EVENT_FUNCTION = """
    CREATE FUNCTION record_auth_event(event text, actor uuid, client uuid, details jsonb)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    BEGIN
        IF event NOT IN ('LOGIN', 'LOGIN_FAIL', 'LOGOUT') THEN
            RAISE EXCEPTION 'unknown authentication event %', event;
        END IF;
        INSERT INTO audit_log (table_name, record_id, operation, new_values, user_id,
                               client_account_id)
        VALUES ('auth', COALESCE(actor, '00000000-0000-0000-0000-000000000000'), event,
                details, actor, client);
    END $$"""


MEMBERSHIPS_ELSEWHERE_FUNCTION = """
    CREATE FUNCTION memberships_elsewhere(member uuid) RETURNS bigint LANGUAGE sql STABLE
    SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        SELECT count(*) FROM user_account_associations
        WHERE user_id = member AND client_account_id IS DISTINCT FROM
              (SELECT NULLIF(current_setting('app.current_client_id', true), '')::uuid)
    $$"""


def downgrade() -> None:
    op.execute("DROP FUNCTION record_auth_event(text, uuid, uuid, jsonb)")
    op.execute("DROP FUNCTION memberships_elsewhere(uuid)")
    op.execute(f"REVOKE ALL ON user_account_associations FROM {SUMMARY_ROLE}")
    op.drop_column('users', 'session_generation')
    op.drop_column('engagements', 'lock_version')
    op.drop_column('client_accounts', 'lock_version')
    op.drop_index('idx_audit_log_tenant_table_time', table_name='audit_log')
    op.drop_index('idx_audit_log_tenant_user_time', table_name='audit_log')
    op.drop_index('idx_audit_log_time', table_name='audit_log')
    op.create_index(op.f('idx_audit_log_time'), 'audit_log', [sa.literal_column('timestamp DESC')], unique=False)
    op.drop_index('idx_invitations_user', table_name='invitations')
    op.drop_index('idx_invitations_client', table_name='invitations')
    op.drop_table('invitations')
