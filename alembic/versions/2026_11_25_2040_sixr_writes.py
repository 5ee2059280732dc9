"""Cheaper bulk writes for assessments (and any other set-based update).

- The statement-level audit of an UPDATE keeps only the columns that changed (old and new
  values of those), and no entry for a row that did not change: an assessment touching
  four columns of a hundred thousand assets wrote two whole rows, specifications and all,
  per asset into the audit log.  The audit page and an asset's history already list only
  the fields that differ, so what they show is the same.  Its triggers may name columns
  the copies leave out (`SKIPPED`, with the reason).
- `assets.updated_at` follows changes of the inventory data (what an import or an edit
  writes), not of the assessment's columns: the list's "Updated" sort means "data last
  changed", and an assessment no longer rewrites an indexed column, so its update of an
  asset can be a heap-only (HOT) update that touches none of the asset table's indexes.
  The asset table keeps half of each page free for such updates (its rows are wide: with
  15% free one row in seven could be updated in place; measured on 20,000 assets the
  assessment's UPDATE took 0.3 s instead of 1.4 s, the table grew 18%); `sixr_analysis`
  keeps 15%.
- One engine analysis per asset is now a rule (a unique partial index), so an assessment
  upserts its rows instead of deleting and re-inserting them.

Revision ID: b7d41c0e9a62
Revises: 5c1e2a7d9b30
Create Date: 2026-11-25 20:40:00
"""
from alembic import op

from portal.models.base import CURRENT_USER
from portal.schema_sql import statement_audit_triggers

revision = 'b7d41c0e9a62'
down_revision = '5c1e2a7d9b30'
branch_labels = None
depends_on = None

_AUDIT = """
    CREATE OR REPLACE FUNCTION audit_statement_change() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, public SET enable_nestloop = off AS $$
    DECLARE
        skipped text[] := COALESCE(TG_ARGV, '{{}}');  -- columns not copied (see upgrade)
        changed text := 'true';  -- which updated rows to look at (see _CHANGED_COLUMNS)
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO audit_log (table_name, record_id, operation, new_values, user_id,
                                   client_account_id)
            SELECT TG_TABLE_NAME, n.id, TG_OP, to_jsonb(n) - skipped, {user},
                   n.client_account_id
            FROM new_rows n;
        ELSIF TG_OP = 'UPDATE' THEN
            {update}
        ELSE
            INSERT INTO audit_log (table_name, record_id, operation, old_values, user_id,
                                   client_account_id)
            SELECT TG_TABLE_NAME, o.id, TG_OP, to_jsonb(o) - skipped, {user},
                   o.client_account_id
            FROM old_rows o;
        END IF;
        RETURN NULL;
    END $$"""

_CHANGED_COLUMNS = """
            IF cardinality(skipped) > 0 THEN
                -- A row whose other columns are all equal changed only what is not
                -- copied: compare those columns first, typed, before building documents
                -- (an assessment updates a hundred thousand assets and logs none).
                SELECT format('(%s) IS DISTINCT FROM (%s)',
                              string_agg(format('o.%I', attname), ', ' ORDER BY attnum),
                              string_agg(format('n.%I', attname), ', ' ORDER BY attnum))
                INTO changed
                FROM pg_attribute
                WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped
                  AND attgenerated = '' AND attname <> ALL (skipped);
            END IF;
            EXECUTE format($sql$
            INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values,
                                   user_id, client_account_id)
            SELECT $2, n.id, $3, d.old_values, d.new_values, {user}, n.client_account_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id
            -- OFFSET 0 keeps the two documents computed once per row: flattened into
            -- the next subquery, to_jsonb ran once per column (ten times slower).
            CROSS JOIN LATERAL (SELECT to_jsonb(o) - $1 AS old_row,
                                       to_jsonb(n) - $1 AS new_row OFFSET 0) r
            CROSS JOIN LATERAL (
                SELECT jsonb_object_agg(e.key, r.old_row -> e.key) AS old_values,
                       jsonb_object_agg(e.key, e.value) AS new_values
                FROM jsonb_each(r.new_row) e
                WHERE r.old_row -> e.key IS DISTINCT FROM e.value) d
            WHERE %s AND d.new_values IS NOT NULL$sql$, changed)
            USING skipped, TG_TABLE_NAME, TG_OP;"""

_WHOLE_ROWS = """
            INSERT INTO audit_log (table_name, record_id, operation, old_values, new_values,
                                   user_id, client_account_id)
            SELECT TG_TABLE_NAME, n.id, TG_OP, to_jsonb(o), to_jsonb(n), {user},
                   n.client_account_id
            FROM new_rows n JOIN old_rows o ON o.id = n.id;"""

_OLD_AUDIT_BODY = _AUDIT.replace("to_jsonb(n) - skipped", "to_jsonb(n)").replace(
    "to_jsonb(o) - skipped", "to_jsonb(o)")

# What the audit copies leave out.  An assessment's outputs on the asset row are recorded
# where they are produced: each engine analysis and each consultant's override is a
# `sixr_analysis` row, audited on insert and update with who, when, the strategy, the
# confidence and the rationale (an override's reason).  The analysis' bulky working (factor
# contributions, alternatives, estimates) is derived data, kept in the row itself.
SKIPPED = {
    "assets": ("sixr_recommendation", "complexity_score", "risk_score", "last_analyzed"),
    "sixr_analysis": ("alternative_options", "analysis_criteria", "cost_estimation",
                      "effort_estimation", "risk_factors", "business_impact",
                      "technical_considerations"),
}

# The columns an import or an edit writes; the assessment's own columns are not among them.
_DATA_COLUMNS = ("asset_name", "asset_key", "asset_type", "environment", "specifications",
                 "dependencies", "configurations", "migration_readiness",
                 "discovered_from_import_id", "discovery_flow_id", "lock_version")


def _audit(body: str, update: str) -> str:
    return body.format(user=CURRENT_USER, update=update.format(user=CURRENT_USER))


def _audit_triggers(table: str, skipped: tuple[str, ...] = ()) -> None:
    """The three statement-level audit triggers of `table`, again, with `skipped`."""
    args = ", ".join(f"'{column}'" for column in skipped)
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER audit_{table}_{event} ON {table}")
    for statement in statement_audit_triggers(table):
        op.execute(statement.replace("audit_statement_change()",
                                     f"audit_statement_change({args})"))


def _row(prefix: str) -> str:
    return "(" + ", ".join(f"{prefix}.{column}" for column in _DATA_COLUMNS) + ")"


def upgrade() -> None:
    op.execute(_audit(_AUDIT, _CHANGED_COLUMNS))
    for table, skipped in SKIPPED.items():
        _audit_triggers(table, skipped)
    op.execute("DROP TRIGGER update_assets_updated_at ON assets")
    op.execute("CREATE TRIGGER update_assets_updated_at BEFORE UPDATE ON assets FOR EACH ROW "
               f"WHEN ({_row('OLD')} IS DISTINCT FROM {_row('NEW')}) "
               "EXECUTE FUNCTION update_updated_at()")
    op.execute("ALTER TABLE assets SET (fillfactor = 50)")
    op.execute("ALTER TABLE sixr_analysis SET (fillfactor = 85)")
    # Earlier releases could leave several engine rows per asset: keep the newest.
    op.execute("""
        DELETE FROM sixr_analysis s USING sixr_analysis t
        WHERE s.analyzed_by = 'engine' AND t.analyzed_by = 'engine'
          AND s.client_account_id = t.client_account_id AND s.asset_id = t.asset_id
          AND (s.analyzed_at, s.id) < (t.analyzed_at, t.id)""")
    op.create_index("idx_sixr_analysis_engine_asset", "sixr_analysis",
                    ["client_account_id", "asset_id"], unique=True,
                    postgresql_where="analyzed_by = 'engine'")


def downgrade() -> None:
    op.drop_index("idx_sixr_analysis_engine_asset", table_name="sixr_analysis")
    op.execute("ALTER TABLE sixr_analysis RESET (fillfactor)")
    op.execute("ALTER TABLE assets RESET (fillfactor)")
    op.execute("DROP TRIGGER update_assets_updated_at ON assets")
    op.execute("CREATE TRIGGER update_assets_updated_at BEFORE UPDATE ON assets FOR EACH ROW "
               "EXECUTE FUNCTION update_updated_at()")
    for table in SKIPPED:
        _audit_triggers(table)
    op.execute(_audit(_OLD_AUDIT_BODY, _WHOLE_ROWS))
