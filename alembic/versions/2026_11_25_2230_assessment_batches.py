"""Cheaper assessment batches.

- Engine analyses are stored whole in their row, uncompressed.  An analysis row of
  `sixr_analysis` is about 3 KB of JSON: above PostgreSQL's default 2 KB threshold, so every
  written row had its largest documents compressed (pglz) and often moved out of line,
  which was half the cost of inserting the rows of an assessment (measured: 100,000 rows
  inserted in 3.4-4.0 s instead of 7.1-8.1 s, and the table 8% smaller).  With
  `toast_tuple_target` at its maximum a row is compressed only when it would not fit a page.
- The statement audit plans its own joins (hash joins, as it always meant to): a writer
  that drives an update through an index (see portal.assessment.store) turns hash joins,
  merge joins and materialisation off for its statement, and the audit of that statement
  must not inherit that.  Nor does it compile its statements (JIT): with nested loops off
  every plan looks expensive enough to compile, and compiling took 0.54 s of each 0.65 s
  audit of a ten-thousand-asset batch update that logs nothing (measured with
  auto_explain; the batch's update with its audit went from 1.15 s to 0.46 s).
- `refresh_inventory_statistics()` lets the application role have the asset table's planner
  statistics brought up to date (`ANALYZE assets`, run as the table's owner).  Right after
  an import the table has none until autovacuum comes round, and the planner then takes a
  tenant's hundred thousand assets for four rows: an assessment's batch update, planned so,
  rescanned its batch once per asset (hours at 100,000 assets).

Revision ID: 3c9e51f0d2a7
Revises: b7d41c0e9a62
Create Date: 2026-11-25 22:30:00
"""
from alembic import op

from portal.config import APP_ROLE, OWNER_ROLE

revision = '3c9e51f0d2a7'
down_revision = 'b7d41c0e9a62'
branch_labels = None
depends_on = None

_AUDIT_SETTINGS = {"enable_hashjoin": "on", "enable_mergejoin": "on", "enable_material": "on",
                   "jit": "off"}


_REFRESH_STATISTICS = [
    "CREATE FUNCTION refresh_inventory_statistics() RETURNS void LANGUAGE sql "
    "SECURITY DEFINER SET search_path = pg_catalog, public AS $$ ANALYZE public.assets $$",
    f"ALTER FUNCTION refresh_inventory_statistics() OWNER TO {OWNER_ROLE}",
    "REVOKE ALL ON FUNCTION refresh_inventory_statistics() FROM PUBLIC",
    f"GRANT EXECUTE ON FUNCTION refresh_inventory_statistics() TO {APP_ROLE}",
]


def upgrade() -> None:
    op.execute("ALTER TABLE sixr_analysis SET (toast_tuple_target = 8160)")
    for setting, value in _AUDIT_SETTINGS.items():
        op.execute(f"ALTER FUNCTION audit_statement_change() SET {setting} = {value}")
    for statement in _REFRESH_STATISTICS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP FUNCTION refresh_inventory_statistics()")
    for setting in _AUDIT_SETTINGS:
        op.execute(f"ALTER FUNCTION audit_statement_change() RESET {setting}")
    op.execute("ALTER TABLE sixr_analysis RESET (toast_tuple_target)")
