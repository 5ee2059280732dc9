"""Import staging: the raw rows of every upload (tenant-scoped, row-level security), and one
learned field-mapping memory per pattern and account.

Revision ID: 88fe0828eaa2
Revises: f4d485f6808c
Create Date: 2026-11-25 18:11:07.867557
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from portal.schema_sql import tenant_table

revision = '88fe0828eaa2'
down_revision = 'f4d485f6808c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_rows',
    sa.Column('client_account_id', sa.Uuid(), nullable=False),
    sa.Column('data_import_id', sa.Uuid(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('errors', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('name_key', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('client_account_id', 'data_import_id', 'row_number', name=op.f('import_rows_pkey'))
    )
    op.create_index('idx_import_rows_invalid', 'import_rows', ['client_account_id', 'data_import_id', 'row_number'], unique=False, postgresql_where=sa.text('errors IS NOT NULL'))
    op.create_index('idx_agent_memory_pattern', 'agent_memory', ['client_account_id', 'agent_type', sa.literal_column("(memory_content ->> 'pattern')")], unique=True)
    # Raw rows are immutable copies of an uploaded file: not audited row by row (the
    # data_imports row that owns them is).  Staging copies into a temporary table first
    # (the app role may create them: see portal/migrate.py), because COPY FROM is not
    # allowed into a table with row-level security.
    for statement in tenant_table("import_rows", "SELECT, INSERT, UPDATE, DELETE"):
        op.execute(statement)
    # No foreign key to data_imports (its per-row check halved staging speed): rows go
    # when their import goes.  SECURITY DEFINER is not needed: the deleting session sees
    # its own tenant's rows, and imports are deleted only within their tenant.
    op.execute(DELETE_ROWS_WITH_IMPORT)
    op.execute("CREATE TRIGGER delete_import_rows AFTER DELETE ON data_imports "
               "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
               "EXECUTE FUNCTION delete_import_rows()")


DELETE_ROWS_WITH_IMPORT = """
    CREATE FUNCTION delete_import_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM import_rows r USING gone
        WHERE r.client_account_id = gone.client_account_id AND r.data_import_id = gone.id;
        RETURN NULL;
    END $$"""


def downgrade() -> None:
    op.execute("DROP TRIGGER delete_import_rows ON data_imports")
    op.execute("DROP FUNCTION delete_import_rows()")
    op.drop_index('idx_agent_memory_pattern', table_name='agent_memory')
    op.drop_index('idx_import_rows_invalid', table_name='import_rows', postgresql_where=sa.text('errors IS NOT NULL'))
    op.drop_table('import_rows')
