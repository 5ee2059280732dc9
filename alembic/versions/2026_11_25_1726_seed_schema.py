"""The seed schema: every table, constraint and index of the seed's database design, with
row-level security, grants, updated_at and audit triggers, and engagement_summary.

Revision ID: 99428587cc36
Revises:
Create Date: 2026-11-25 17:26:34.110174
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from portal.config import APP_ROLE, OWNER_ROLE, SUMMARY_ROLE
from portal.models.base import CURRENT_CLIENT
from portal.schema_sql import (CURRENT_USER, FUNCTIONS, LOGIN_EMAIL_HASH,
                               enable_rls, platform_admin_policy, row_audit_trigger,
                               statement_audit_triggers, tenant_table, updated_at_trigger)

revision = '99428587cc36'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('table_name', sa.String(length=100), nullable=False),
    sa.Column('record_id', sa.Uuid(), nullable=False),
    sa.Column('operation', sa.String(length=10), nullable=False),
    sa.Column('old_values', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('new_values', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=True),
    sa.Column('timestamp', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('audit_log_pkey'))
    )
    op.create_index('idx_audit_log_record', 'audit_log', ['table_name', 'record_id'], unique=False)
    op.create_index('idx_audit_log_tenant_time', 'audit_log', ['client_account_id', sa.literal_column('timestamp DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('idx_audit_log_time', 'audit_log', [sa.literal_column('timestamp DESC')], unique=False)
    op.create_table('client_accounts',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('company_size', sa.String(length=50), nullable=True),
    sa.Column('subscription_tier', sa.String(length=50), server_default=sa.text("'standard'"), nullable=True),
    sa.Column('max_users', sa.Integer(), nullable=True),
    sa.Column('max_engagements', sa.Integer(), nullable=True),
    sa.Column('storage_quota_gb', sa.Integer(), nullable=True),
    sa.Column('api_quota_monthly', sa.Integer(), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('features_enabled', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('agent_configuration', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('branding', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('business_objectives', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text('\'{"primary_goals": [], "timeframe": "", "success_metrics": [], "constraints": []}\'::jsonb'), nullable=True),
    sa.Column('agent_preferences', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text('\'{"discovery_depth": "comprehensive", "automation_level": "assisted", "risk_tolerance": "moderate", "preferred_clouds": [], "compliance_requirements": []}\'::jsonb'), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('client_accounts_pkey')),
    sa.UniqueConstraint('slug', name='client_accounts_slug_unique')
    )
    op.create_index('idx_client_accounts_active', 'client_accounts', ['is_active'], unique=False)
    op.create_index('idx_client_accounts_subscription', 'client_accounts', ['subscription_tier'], unique=False)
    op.create_table('login_attempts',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('remote_addr', postgresql.INET(), nullable=True),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('login_attempts_pkey'))
    )
    op.create_index('idx_login_attempts_email', 'login_attempts', ['email_hash', 'attempted_at'], unique=False)
    op.create_index('idx_login_attempts_ip', 'login_attempts', ['remote_addr', 'attempted_at'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('is_verified', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('is_admin', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('default_client_id', sa.Uuid(), nullable=True),
    sa.Column('default_engagement_id', sa.Uuid(), nullable=True),
    sa.Column('last_login', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('users_pkey')),
    sa.UniqueConstraint('email_hash', name='users_email_unique')
    )
    op.create_table('engagements',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('engagement_type', sa.String(length=50), server_default=sa.text("'migration'"), nullable=True),
    sa.Column('status', sa.String(length=50), server_default=sa.text("'active'"), nullable=True),
    sa.Column('priority', sa.String(length=20), server_default=sa.text("'medium'"), nullable=True),
    sa.Column('start_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('target_completion_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('actual_completion_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('engagement_lead_id', sa.Uuid(), nullable=True),
    sa.Column('client_contact_name', sa.String(length=255), nullable=True),
    sa.Column('client_contact_email', sa.Text(), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('migration_scope', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text('\'{"target_clouds": [], "migration_strategies": [], "excluded_systems": [], "included_environments": [], "business_units": [], "geographic_scope": []}\'::jsonb'), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_engagements_client_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_engagements_created_by'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['engagement_lead_id'], ['users.id'], name=op.f('fk_engagements_engagement_lead_id'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('engagements_pkey')),
    sa.UniqueConstraint('client_account_id', 'id', name='engagements_tenant_key'),
    sa.UniqueConstraint('client_account_id', 'slug', name='engagements_slug_unique')
    )
    op.create_index('idx_engagements_active', 'engagements', ['is_active'], unique=False)
    op.create_index('idx_engagements_client', 'engagements', ['client_account_id'], unique=False)
    op.create_index('idx_engagements_status', 'engagements', ['status'], unique=False)
    # users <-> engagements reference each other: the users side is added once both exist.
    op.create_foreign_key(op.f('fk_users_default_client_id'), 'users', 'client_accounts',
                          ['default_client_id'], ['id'], ondelete='SET NULL')
    op.create_foreign_key(op.f('fk_users_default_engagement_id'), 'users', 'engagements',
                          ['default_engagement_id'], ['id'], ondelete='SET NULL')
    op.create_table('user_account_associations',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=50), server_default=sa.text("'member'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'member', 'viewer')", name=op.f('check_valid_role')),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_user_account_associations_client_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_user_account_associations_created_by'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_account_associations_user_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('user_account_associations_pkey')),
    sa.UniqueConstraint('user_id', 'client_account_id', name='user_client_unique')
    )
    op.create_index('idx_user_associations_client', 'user_account_associations', ['client_account_id'], unique=False)
    op.create_index('idx_user_associations_user', 'user_account_associations', ['user_id'], unique=False)
    op.create_table('agent_memory',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=True),
    sa.Column('agent_type', sa.String(length=100), nullable=False),
    sa.Column('memory_type', sa.String(length=50), nullable=True),
    sa.Column('memory_content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('confidence_score', sa.Float(), server_default=sa.text('0.0'), nullable=True),
    sa.Column('usage_count', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('context_tags', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('related_flows', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('last_accessed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_agent_memory_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_agent_memory_client_account_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('agent_memory_pkey'))
    )
    op.create_index('idx_agent_memory_client', 'agent_memory', ['client_account_id'], unique=False)
    op.create_index('idx_agent_memory_confidence', 'agent_memory', ['confidence_score'], unique=False)
    op.create_index('idx_agent_memory_type', 'agent_memory', ['agent_type', 'memory_type'], unique=False)
    op.create_table('agent_task_history',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=True),
    sa.Column('flow_id', sa.Uuid(), nullable=True),
    sa.Column('agent_name', sa.String(length=255), nullable=False),
    sa.Column('task_type', sa.String(length=100), nullable=False),
    sa.Column('task_description', sa.Text(), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('tokens_used', sa.Integer(), nullable=True),
    sa.Column('success_rate', sa.Float(), nullable=True),
    sa.Column('task_result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('error_details', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_agent_task_history_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_agent_task_history_client_account_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('agent_task_history_pkey'))
    )
    op.create_index('idx_agent_tasks_agent', 'agent_task_history', ['agent_name'], unique=False)
    op.create_index('idx_agent_tasks_client', 'agent_task_history', ['client_account_id'], unique=False)
    op.create_index('idx_agent_tasks_flow', 'agent_task_history', ['flow_id'], unique=False)
    op.create_index('idx_agent_tasks_started', 'agent_task_history', ['started_at'], unique=False)
    op.create_index('idx_agent_tasks_type', 'agent_task_history', ['task_type'], unique=False)
    op.create_table('collection_flows',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('flow_name', sa.String(length=255), nullable=False),
    sa.Column('flow_type', sa.String(length=50), server_default=sa.text("'adaptive'"), nullable=True),
    sa.Column('status', sa.String(length=50), server_default=sa.text("'active'"), nullable=True),
    sa.Column('target_application_count', sa.Integer(), nullable=True),
    sa.Column('collection_method', sa.String(length=50), nullable=True),
    sa.Column('applications_identified', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('applications_completed', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('data_quality_score', sa.Float(), server_default=sa.text('0.0'), nullable=True),
    sa.Column('application_catalog', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('collection_metadata', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_collection_flows_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_collection_flows_client_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_collection_flows_user_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('collection_flows_pkey'))
    )
    op.create_index('idx_collection_flows_client', 'collection_flows', ['client_account_id'], unique=False)
    op.create_index('idx_collection_flows_engagement', 'collection_flows', ['engagement_id'], unique=False)
    op.create_index('idx_collection_flows_status', 'collection_flows', ['status'], unique=False)
    op.create_table('data_imports',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('file_size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('file_type', sa.String(length=50), nullable=True),
    sa.Column('upload_status', sa.String(length=50), server_default=sa.text("'pending'"), nullable=True),
    sa.Column('total_rows', sa.Integer(), nullable=True),
    sa.Column('valid_rows', sa.Integer(), nullable=True),
    sa.Column('invalid_rows', sa.Integer(), nullable=True),
    sa.Column('columns_detected', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('file_path', sa.Text(), nullable=True),
    sa.Column('processed_data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('validation_errors', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('uploaded_by', sa.Uuid(), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_data_imports_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_data_imports_client_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_data_imports_uploaded_by'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('data_imports_pkey')),
    sa.UniqueConstraint('client_account_id', 'id', name='data_imports_tenant_key')
    )
    op.create_index('idx_data_imports_client', 'data_imports', ['client_account_id'], unique=False)
    op.create_index('idx_data_imports_engagement', 'data_imports', ['engagement_id'], unique=False)
    op.create_index('idx_data_imports_status', 'data_imports', ['upload_status'], unique=False)
    op.create_table('master_flows',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('flow_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.String(), nullable=False),
    sa.Column('flow_type', sa.String(length=50), nullable=False),
    sa.Column('flow_name', sa.String(length=255), nullable=False),
    sa.Column('flow_version', sa.String(length=20), server_default=sa.text("'1.0'"), nullable=True),
    sa.Column('flow_status', sa.String(length=50), server_default=sa.text("'initialized'"), nullable=True),
    sa.Column('current_phase', sa.String(length=100), nullable=True),
    sa.Column('progress_percentage', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('flow_config', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('agent_config', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('performance_metrics', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('execution_stats', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('error_details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('flow_persistence_data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('checkpoint_data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('phase_transitions', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("flow_status IN ('initialized', 'running', 'paused', 'completed', 'failed', 'cancelled')", name=op.f('check_master_flow_status')),
    sa.CheckConstraint('progress_percentage >= 0 AND progress_percentage <= 100', name=op.f('check_progress_percentage')),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_master_flows_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_master_flows_client_account_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('master_flows_pkey')),
    sa.UniqueConstraint('client_account_id', 'flow_id', name='master_flows_tenant_key'),
    sa.UniqueConstraint('flow_id', name='flow_id_unique')
    )
    op.create_index('idx_flow_config_gin', 'master_flows', ['flow_config'], unique=False, postgresql_using='gin')
    op.create_index('idx_flow_extensions_client', 'master_flows', ['client_account_id'], unique=False)
    op.create_index('idx_flow_extensions_engagement', 'master_flows', ['engagement_id'], unique=False)
    op.create_index('idx_flow_extensions_status', 'master_flows', ['flow_status'], unique=False)
    op.create_index('idx_flow_extensions_type', 'master_flows', ['flow_type'], unique=False)
    op.create_table('assessment_flows',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('flow_id', sa.Uuid(), nullable=False),
    sa.Column('master_flow_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.String(), nullable=False),
    sa.Column('flow_name', sa.String(length=255), nullable=False),
    sa.Column('assessment_type', sa.String(length=50), server_default=sa.text("'comprehensive'"), nullable=True),
    sa.Column('status', sa.String(length=50), server_default=sa.text("'active'"), nullable=True),
    sa.Column('asset_scope', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('assessment_criteria', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('assessment_results', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('recommendations', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('risk_assessment', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_assessment_flows_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id', 'master_flow_id'], ['master_flows.client_account_id', 'master_flows.flow_id'], name=op.f('fk_assessment_flows_client_account_id_master_flow_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_assessment_flows_client_account_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('assessment_flows_pkey')),
    sa.UniqueConstraint('flow_id', name='assessment_flows_flow_id_key')
    )
    op.create_index('idx_assessment_flows_client', 'assessment_flows', ['client_account_id'], unique=False)
    op.create_index('idx_assessment_flows_engagement', 'assessment_flows', ['engagement_id'], unique=False)
    op.create_table('discovery_flows',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('flow_id', sa.Uuid(), nullable=False),
    sa.Column('master_flow_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.String(), nullable=False),
    sa.Column('data_import_id', sa.Uuid(), nullable=True),
    sa.Column('flow_name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=50), server_default=sa.text("'active'"), nullable=True),
    sa.Column('current_phase', sa.String(length=100), server_default=sa.text("'data_import'"), nullable=True),
    sa.Column('progress_percentage', sa.Integer(), server_default=sa.text('0'), nullable=True),
    sa.Column('data_import_completed', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('field_mapping_completed', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('data_cleansing_completed', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('asset_inventory_completed', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('dependency_analysis_completed', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('tech_debt_completed', sa.Boolean(), server_default=sa.text('false'), nullable=True),
    sa.Column('analysis_results', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('field_mappings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('data_quality_metrics', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('crewai_state_data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('last_phase_update', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.CheckConstraint("status IN ('active', 'paused', 'completed', 'failed', 'cancelled')", name=op.f('check_discovery_status')),
    sa.CheckConstraint('progress_percentage >= 0 AND progress_percentage <= 100', name=op.f('check_progress_percentage')),
    sa.ForeignKeyConstraint(['client_account_id', 'data_import_id'], ['data_imports.client_account_id', 'data_imports.id'], name=op.f('fk_discovery_flows_client_account_id_data_import_id')),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_discovery_flows_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id', 'master_flow_id'], ['master_flows.client_account_id', 'master_flows.flow_id'], name=op.f('fk_discovery_flows_client_account_id_master_flow_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_discovery_flows_client_account_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('discovery_flows_pkey')),
    sa.UniqueConstraint('client_account_id', 'flow_id', name='discovery_flows_tenant_key'),
    sa.UniqueConstraint('flow_id', name='discovery_flows_flow_id_unique')
    )
    op.create_index('idx_active_discovery_flows', 'discovery_flows', ['client_account_id', 'engagement_id'], unique=False, postgresql_where=sa.text("status = 'active'"))
    op.create_index('idx_discovery_flows_client', 'discovery_flows', ['client_account_id'], unique=False)
    op.create_index('idx_discovery_flows_engagement', 'discovery_flows', ['engagement_id'], unique=False)
    op.create_index('idx_discovery_flows_master', 'discovery_flows', ['master_flow_id'], unique=False)
    op.create_index('idx_discovery_flows_phase', 'discovery_flows', ['current_phase'], unique=False)
    op.create_index('idx_discovery_flows_status', 'discovery_flows', ['status'], unique=False)
    op.create_index('idx_discovery_flows_tenant_status', 'discovery_flows', ['client_account_id', 'engagement_id', 'status'], unique=False)
    op.create_table('assets',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('asset_name', sa.String(length=255), nullable=False),
    sa.Column('asset_type', sa.String(length=100), nullable=True),
    sa.Column('environment', sa.String(length=100), nullable=True),
    sa.Column('specifications', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('dependencies', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('configurations', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('migration_readiness', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('sixr_recommendation', sa.String(length=50), nullable=True),
    sa.Column('complexity_score', sa.Integer(), nullable=True),
    sa.Column('risk_score', sa.Integer(), nullable=True),
    sa.Column('discovered_from_import_id', sa.Uuid(), nullable=True),
    sa.Column('discovery_flow_id', sa.Uuid(), nullable=True),
    sa.Column('last_analyzed', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.ForeignKeyConstraint(['client_account_id', 'discovered_from_import_id'], ['data_imports.client_account_id', 'data_imports.id'], name=op.f('fk_assets_client_account_id_discovered_from_import_id'), ondelete='SET NULL (discovered_from_import_id)'),
    sa.ForeignKeyConstraint(['client_account_id', 'discovery_flow_id'], ['discovery_flows.client_account_id', 'discovery_flows.flow_id'], name=op.f('fk_assets_client_account_id_discovery_flow_id'), ondelete='SET NULL (discovery_flow_id)'),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_assets_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_assets_client_account_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('assets_pkey')),
    sa.UniqueConstraint('client_account_id', 'id', name='assets_tenant_key')
    )
    op.create_index('idx_assets_client', 'assets', ['client_account_id'], unique=False)
    op.create_index('idx_assets_discovery', 'assets', ['discovery_flow_id'], unique=False)
    op.create_index('idx_assets_engagement', 'assets', ['engagement_id'], unique=False)
    op.create_index('idx_assets_environment', 'assets', ['environment'], unique=False)
    op.create_index('idx_assets_sixr', 'assets', ['sixr_recommendation'], unique=False)
    op.create_index('idx_assets_specifications_gin', 'assets', ['specifications'], unique=False, postgresql_using='gin')
    op.create_index('idx_assets_tenant_type', 'assets', ['client_account_id', 'engagement_id', 'asset_type'], unique=False)
    op.create_index('idx_assets_type', 'assets', ['asset_type'], unique=False)
    op.create_table('sixr_analysis',
    sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('asset_id', sa.Uuid(), nullable=False),
    sa.Column('primary_recommendation', sa.String(length=50), nullable=False),
    sa.Column('confidence_score', sa.Float(), nullable=False),
    sa.Column('alternative_options', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('analysis_criteria', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('cost_estimation', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('effort_estimation', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('risk_factors', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('business_impact', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('technical_considerations', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True),
    sa.Column('analyzed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('analyzed_by', sa.String(length=255), nullable=True),
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('engagement_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("primary_recommendation IN ('rehost', 'replatform', 'refactor', 'rearchitect', 'rebuild', 'repurchase', 'retire', 'retain')", name=op.f('check_sixr_strategy')),
    sa.CheckConstraint('confidence_score >= 0.0 AND confidence_score <= 1.0', name=op.f('check_confidence_score')),
    sa.ForeignKeyConstraint(['client_account_id', 'asset_id'], ['assets.client_account_id', 'assets.id'], name=op.f('fk_sixr_analysis_client_account_id_asset_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id', 'engagement_id'], ['engagements.client_account_id', 'engagements.id'], name=op.f('fk_sixr_analysis_client_account_id_engagement_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_account_id'], ['client_accounts.id'], name=op.f('fk_sixr_analysis_client_account_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('sixr_analysis_pkey'))
    )
    op.create_index('idx_sixr_analysis_asset', 'sixr_analysis', ['asset_id'], unique=False)
    op.create_index('idx_sixr_analysis_confidence', 'sixr_analysis', ['confidence_score'], unique=False)
    op.create_index('idx_sixr_analysis_recommendation', 'sixr_analysis', ['primary_recommendation'], unique=False)
    op.create_index('idx_sixr_analysis_tenant', 'sixr_analysis', ['client_account_id', 'engagement_id'], unique=False)
    create_security_and_views()


def downgrade() -> None:
    drop_security_and_views()
    op.drop_index('idx_sixr_analysis_tenant', table_name='sixr_analysis')
    op.drop_index('idx_sixr_analysis_recommendation', table_name='sixr_analysis')
    op.drop_index('idx_sixr_analysis_confidence', table_name='sixr_analysis')
    op.drop_index('idx_sixr_analysis_asset', table_name='sixr_analysis')
    op.drop_table('sixr_analysis')
    op.drop_index('idx_assets_type', table_name='assets')
    op.drop_index('idx_assets_tenant_type', table_name='assets')
    op.drop_index('idx_assets_specifications_gin', table_name='assets', postgresql_using='gin')
    op.drop_index('idx_assets_sixr', table_name='assets')
    op.drop_index('idx_assets_environment', table_name='assets')
    op.drop_index('idx_assets_engagement', table_name='assets')
    op.drop_index('idx_assets_discovery', table_name='assets')
    op.drop_index('idx_assets_client', table_name='assets')
    op.drop_table('assets')
    op.drop_index('idx_discovery_flows_tenant_status', table_name='discovery_flows')
    op.drop_index('idx_discovery_flows_status', table_name='discovery_flows')
    op.drop_index('idx_discovery_flows_phase', table_name='discovery_flows')
    op.drop_index('idx_discovery_flows_master', table_name='discovery_flows')
    op.drop_index('idx_discovery_flows_engagement', table_name='discovery_flows')
    op.drop_index('idx_discovery_flows_client', table_name='discovery_flows')
    op.drop_index('idx_active_discovery_flows', table_name='discovery_flows', postgresql_where=sa.text("status = 'active'"))
    op.drop_table('discovery_flows')
    op.drop_index('idx_assessment_flows_engagement', table_name='assessment_flows')
    op.drop_index('idx_assessment_flows_client', table_name='assessment_flows')
    op.drop_table('assessment_flows')
    op.drop_index('idx_flow_extensions_type', table_name='master_flows')
    op.drop_index('idx_flow_extensions_status', table_name='master_flows')
    op.drop_index('idx_flow_extensions_engagement', table_name='master_flows')
    op.drop_index('idx_flow_extensions_client', table_name='master_flows')
    op.drop_index('idx_flow_config_gin', table_name='master_flows', postgresql_using='gin')
    op.drop_table('master_flows')
    op.drop_index('idx_data_imports_status', table_name='data_imports')
    op.drop_index('idx_data_imports_engagement', table_name='data_imports')
    op.drop_index('idx_data_imports_client', table_name='data_imports')
    op.drop_table('data_imports')
    op.drop_index('idx_collection_flows_status', table_name='collection_flows')
    op.drop_index('idx_collection_flows_engagement', table_name='collection_flows')
    op.drop_index('idx_collection_flows_client', table_name='collection_flows')
    op.drop_table('collection_flows')
    op.drop_index('idx_agent_tasks_type', table_name='agent_task_history')
    op.drop_index('idx_agent_tasks_started', table_name='agent_task_history')
    op.drop_index('idx_agent_tasks_flow', table_name='agent_task_history')
    op.drop_index('idx_agent_tasks_client', table_name='agent_task_history')
    op.drop_index('idx_agent_tasks_agent', table_name='agent_task_history')
    op.drop_table('agent_task_history')
    op.drop_index('idx_agent_memory_type', table_name='agent_memory')
    op.drop_index('idx_agent_memory_confidence', table_name='agent_memory')
    op.drop_index('idx_agent_memory_client', table_name='agent_memory')
    op.drop_table('agent_memory')
    op.drop_index('idx_user_associations_user', table_name='user_account_associations')
    op.drop_index('idx_user_associations_client', table_name='user_account_associations')
    op.drop_table('user_account_associations')
    op.drop_index('idx_engagements_status', table_name='engagements')
    op.drop_index('idx_engagements_client', table_name='engagements')
    op.drop_index('idx_engagements_active', table_name='engagements')
    op.drop_constraint(op.f('fk_users_default_engagement_id'), 'users', type_='foreignkey')
    op.drop_constraint(op.f('fk_users_default_client_id'), 'users', type_='foreignkey')
    op.drop_table('engagements')
    op.drop_table('users')
    op.drop_index('idx_login_attempts_ip', table_name='login_attempts')
    op.drop_index('idx_login_attempts_email', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_index('idx_client_accounts_subscription', table_name='client_accounts')
    op.drop_index('idx_client_accounts_active', table_name='client_accounts')
    op.drop_table('client_accounts')
    op.drop_index('idx_audit_log_time', table_name='audit_log')
    op.drop_index('idx_audit_log_tenant_time', table_name='audit_log')
    op.drop_index('idx_audit_log_record', table_name='audit_log')
    op.drop_table('audit_log')


TENANT_TABLES = ["engagements", "user_account_associations", "master_flows", "discovery_flows",
                 "collection_flows", "assessment_flows", "data_imports", "assets",
                 "agent_memory", "agent_task_history", "sixr_analysis"]
UPDATED_AT_TABLES = ["client_accounts", "users", "engagements", "master_flows",
                     "discovery_flows", "collection_flows", "assessment_flows", "data_imports",
                     "assets", "agent_memory"]
HIGH_VOLUME_TABLES = ["assets", "sixr_analysis"]
REDACTED = {"users": ("password_hash", "email", "email_hash"),
            "engagements": ("client_contact_email",)}

MEMBERSHIPS_OF_CURRENT_USER = (
    f"(SELECT client_account_id FROM user_account_associations WHERE user_id = {CURRENT_USER})")
MEMBERS_OF_CURRENT_CLIENT = (
    f"(SELECT user_id FROM user_account_associations WHERE client_account_id = {CURRENT_CLIENT})")

ENGAGEMENT_SUMMARY = """
    CREATE MATERIALIZED VIEW engagement_summary AS
    SELECT e.id AS engagement_id,
           e.client_account_id,
           e.name AS engagement_name,
           COUNT(DISTINCT df.id) AS discovery_flows_count,
           COUNT(DISTINCT a.id) AS assets_count,
           AVG(df.progress_percentage) AS avg_progress,
           COUNT(DISTINCT CASE WHEN df.status = 'completed' THEN df.id END) AS completed_flows
    FROM engagements e
    LEFT JOIN discovery_flows df ON e.id = df.engagement_id
    LEFT JOIN assets a ON e.id = a.engagement_id
    WHERE e.is_active = TRUE
    GROUP BY e.id, e.client_account_id, e.name"""


# Child flows say 'active' where the master says 'initialized' or 'running'; every other
# status must be the same word on both rows.
FLOW_STATUS_MISMATCHES = """
    CREATE FUNCTION flow_status_mismatches() RETURNS bigint LANGUAGE sql STABLE
    SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        SELECT count(*) FROM (
            SELECT child.status, master.flow_status
            FROM discovery_flows child JOIN master_flows master
              ON master.client_account_id = child.client_account_id
             AND master.flow_id = child.master_flow_id
            UNION ALL
            SELECT child.status, master.flow_status
            FROM assessment_flows child JOIN master_flows master
              ON master.client_account_id = child.client_account_id
             AND master.flow_id = child.master_flow_id
        ) pairs(child_status, master_status)
        WHERE child_status IS DISTINCT FROM CASE master_status
            WHEN 'initialized' THEN 'active' WHEN 'running' THEN 'active'
            ELSE master_status END
    $$"""


def create_security_and_views() -> None:
    statements: list[str] = list(FUNCTIONS)
    for table in UPDATED_AT_TABLES:
        statements.append(updated_at_trigger(table))
    for table in TENANT_TABLES:
        statements += tenant_table(table)
        if table in HIGH_VOLUME_TABLES:
            statements += statement_audit_triggers(table)
        else:
            statements.append(row_audit_trigger(table, REDACTED.get(table, ())))
    statements += [
        # Memberships: a user sees their own (account switcher) besides the current tenant's.
        f"CREATE POLICY own_memberships ON user_account_associations FOR SELECT "
        f"USING (user_id = {CURRENT_USER})",
        platform_admin_policy("user_account_associations"),
        # Client accounts: the tenant itself; no DELETE (accounts are deactivated).
        *enable_rls("client_accounts"),
        f"CREATE POLICY member_accounts ON client_accounts FOR SELECT "
        f"USING (id = {CURRENT_CLIENT} OR id IN {MEMBERSHIPS_OF_CURRENT_USER})",
        f"CREATE POLICY current_account_update ON client_accounts FOR UPDATE "
        f"USING (id = {CURRENT_CLIENT}) WITH CHECK (id = {CURRENT_CLIENT})",
        platform_admin_policy("client_accounts"),
        f"GRANT SELECT, INSERT, UPDATE ON client_accounts TO {APP_ROLE}",
        row_audit_trigger("client_accounts"),
        # Users: yourself, the colleagues of the current account, and, during login only,
        # the row whose keyed e-mail hash is being looked up.  No DELETE (deactivate).
        *enable_rls("users"),
        f"CREATE POLICY visible_users ON users FOR SELECT USING (id = {CURRENT_USER} "
        f"OR email_hash = {LOGIN_EMAIL_HASH} OR id IN {MEMBERS_OF_CURRENT_CLIENT})",
        f"CREATE POLICY editable_users ON users FOR UPDATE "
        f"USING (id = {CURRENT_USER} OR id IN {MEMBERS_OF_CURRENT_CLIENT})",
        f"CREATE POLICY account_creates_users ON users FOR INSERT "
        f"WITH CHECK ({CURRENT_CLIENT} IS NOT NULL)",
        platform_admin_policy("users"),
        f"GRANT SELECT, INSERT, UPDATE ON users TO {APP_ROLE}",
        row_audit_trigger("users", REDACTED["users"]),
        # Audit log: written only by the owner's triggers, read per tenant (or by platform
        # admins); the app role can never update, delete or truncate it.
        *enable_rls("audit_log"),
        f"CREATE POLICY tenant_read ON audit_log FOR SELECT TO {APP_ROLE} "
        f"USING (client_account_id = {CURRENT_CLIENT})",
        platform_admin_policy("audit_log", "SELECT"),
        f"CREATE POLICY trigger_write ON audit_log FOR INSERT TO {OWNER_ROLE} WITH CHECK (true)",
        f"GRANT SELECT ON audit_log TO {APP_ROLE}",
        f"GRANT SELECT, INSERT, DELETE ON login_attempts TO {APP_ROLE}",
        f"GRANT SELECT ON alembic_version TO {APP_ROLE}",
        # engagement_summary spans tenants, and views bypass RLS: it is owned by the
        # BYPASSRLS-but-NOLOGIN summary role, never granted to the app role, and read
        # through a security-barrier view that filters by the current tenant.
        ENGAGEMENT_SUMMARY,
        "CREATE UNIQUE INDEX idx_engagement_summary_engagement "
        "ON engagement_summary (engagement_id)",
        "CREATE INDEX idx_engagement_summary_client ON engagement_summary (client_account_id)",
        f"GRANT SELECT ON engagements, discovery_flows, assets TO {SUMMARY_ROLE}",
        f"ALTER MATERIALIZED VIEW engagement_summary OWNER TO {SUMMARY_ROLE}",
        f"GRANT SELECT ON engagement_summary TO {OWNER_ROLE}",
        "CREATE VIEW engagement_summary_current WITH (security_barrier) AS "
        f"SELECT * FROM engagement_summary WHERE client_account_id = {CURRENT_CLIENT}",
        f"GRANT SELECT ON engagement_summary_current TO {APP_ROLE}",
        "CREATE FUNCTION refresh_engagement_summary() RETURNS void LANGUAGE sql "
        "SECURITY DEFINER SET search_path = pg_catalog, public AS "
        "$$ REFRESH MATERIALIZED VIEW CONCURRENTLY public.engagement_summary $$",
        f"ALTER FUNCTION refresh_engagement_summary() OWNER TO {SUMMARY_ROLE}",
        "REVOKE ALL ON FUNCTION refresh_engagement_summary() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION refresh_engagement_summary() TO {APP_ROLE}",
        # The readiness probe's master/child flow consistency check must see every tenant.
        f"GRANT SELECT ON master_flows, assessment_flows TO {SUMMARY_ROLE}",
        FLOW_STATUS_MISMATCHES,
        f"ALTER FUNCTION flow_status_mismatches() OWNER TO {SUMMARY_ROLE}",
        "REVOKE ALL ON FUNCTION flow_status_mismatches() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION flow_status_mismatches() TO {APP_ROLE}",
    ]
    for statement in statements:
        op.execute(statement)


def drop_security_and_views() -> None:
    op.execute("DROP FUNCTION refresh_engagement_summary(), flow_status_mismatches()")
    op.execute(f"REVOKE ALL ON master_flows, assessment_flows FROM {SUMMARY_ROLE}")
    op.execute("DROP VIEW engagement_summary_current")
    op.execute("DROP MATERIALIZED VIEW engagement_summary")
    # These policies read user_account_associations, which is dropped before their tables.
    op.execute("DROP POLICY member_accounts ON client_accounts")
    op.execute("DROP POLICY visible_users ON users")
    op.execute("DROP POLICY editable_users ON users")
    op.execute(f"REVOKE ALL ON engagements, discovery_flows, assets FROM {SUMMARY_ROLE}")
    # Policies and triggers go with their tables; the functions after them.
    op.execute("DROP FUNCTION audit_row_change(), audit_statement_change() CASCADE")
    op.execute("DROP FUNCTION update_updated_at() CASCADE")
