"""Cleansed records: a discovery flow's cleansed, de-duplicated records, written once by its
data_cleansing phase and streamed by the phases after it (instead of each phase cleansing
the whole import again in memory).  Tenant-scoped under row-level security like
import_rows; no foreign key (bulk writes, and the owning flow is tenant-checked).

Revision ID: 5c1e2a7d9b30
Revises: 0633f7142729
Create Date: 2026-11-25 20:15:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from portal.schema_sql import tenant_table

revision = '5c1e2a7d9b30'
down_revision = '0633f7142729'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cleansed_records',
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('flow_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('asset_key', sa.Text(), nullable=True),
    sa.Column('record', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('client_account_id', 'flow_id', 'position',
                            name=op.f('cleansed_records_pkey'))
    )
    for statement in tenant_table("cleansed_records", "SELECT, INSERT, UPDATE, DELETE"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table('cleansed_records')
