"""Asset inventory: the natural key upserts conflict on, optimistic locking, generated columns
mirroring the JSONB fields the list filters and sorts by, and one index per sort.

- `asset_key` (normalised name) is unique per (account, engagement).  The application
  writes it (portal.inventory computes it with the same function staging uses); a BEFORE
  INSERT trigger fills it only when an INSERT leaves it out (hand-written SQL), and its
  WHEN clause keeps the trigger function from even being called on the import path.
- `lock_version`: the mapper's version counter (409 on conflicting edits; upserts bump it).
- Generated (STORED) columns from `specifications` / `migration_readiness`: PostgreSQL
  keeps them in step with every writer of the JSONB, so no code has to remember to.
- Sort indexes lead with (client_account_id, engagement_id) and end with id: keyset pages.
- Prefix search over name, hostname and IP: btree ranges in the "C" collation.  (Not a
  full-text or trigram GIN index: their operators are not LEAKPROOF, so under row-level
  security PostgreSQL may not use them as index conditions for the application role.)
- A jsonb_path_ops GIN index over `dependencies` for "which assets depend on this one".
- The seed's single-column indexes on client, engagement, type, environment and 6R are
  dropped (every tenant query leads with client and engagement; each cost imports a write).
- Numbers the list sorts by are double precision: numeric's comparisons are not
  LEAKPROOF either, which turned keyset conditions into filters under RLS.
- The statement-level audit trigger function runs without nested loops (see below): the
  bulk upserts and updates of assets made its cached plan quadratic.

Revision ID: 0633f7142729
Revises: e4fa58d3eeae
Create Date: 2026-11-25 19:01:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0633f7142729'
down_revision = 'e4fa58d3eeae'
branch_labels = None
depends_on = None


def _number(document: str, path: str) -> str:
    return (f"CASE WHEN jsonb_typeof({document} #> '{{{path}}}') = 'number' "
            f"THEN ({document} #>> '{{{path}}}')::double precision ELSE NULL END")


GENERATED = [
    ("os_name", sa.Text(), "left(specifications ->> 'os_name', 200)"),
    ("application", sa.Text(), "left(specifications ->> 'application', 200)"),
    ("criticality_rank", sa.Integer(),
     "CASE lower(specifications ->> 'business_criticality') WHEN 'critical' THEN 4 "
     "WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE NULL END"),
    ("cpu_cores", sa.Integer(),
     "CASE WHEN jsonb_typeof(specifications -> 'cpu_cores') = 'number' "
     "THEN round((specifications ->> 'cpu_cores')::numeric)::integer ELSE NULL END"),
    ("memory_gb", sa.Double(), _number("specifications", "memory_gb")),
    ("tech_debt_status", sa.Text(), "left(migration_readiness #>> '{tech_debt,status}', 50)"),
    ("tech_debt_score", sa.Double(), _number("migration_readiness", "tech_debt,score")),
    ("host_key", sa.Text(collation="C"), "lower(left(specifications ->> 'hostname', 255))"),
    ("ip_address", sa.Text(collation="C"), "left(specifications ->> 'ip_address', 100)"),
]
SORT_COLUMNS = ["environment", "os_name", "application", "criticality_rank", "cpu_cores",
                "memory_gb", "tech_debt_score", "updated_at"]
SEARCH_COLUMNS = ["host_key", "ip_address"]
# The seed's single-column indexes that no tenant query starts from (measured: together
# a tenth of a bulk import's time).  Recreated by the downgrade.
SEED_INDEXES = [("idx_assets_client", "client_account_id"),
                ("idx_assets_engagement", "engagement_id"),
                ("idx_assets_type", "asset_type"),
                ("idx_assets_environment", "environment"),
                ("idx_assets_sixr", "sixr_recommendation")]
# The same folding as portal.discovery.fields.normalise_name for ASCII names.
KEY_OF_NAME = "lower(btrim(regexp_replace({name}, '\\s+', ' ', 'g')))"

DEFAULT_KEY_FUNCTION = f"""
    CREATE FUNCTION assets_default_key() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.asset_key := {KEY_OF_NAME.format(name='NEW.asset_name')};
        RETURN NEW;
    END $$"""

# Rows written before this migration: their key, numbered after the first where two names
# of one engagement fold to the same key (nothing is merged or lost by migrating).
BACKFILL_KEYS = f"""
    UPDATE assets a SET asset_key = k.key || CASE WHEN k.n > 1 THEN ' #' || k.n ELSE '' END
    FROM (SELECT id, {KEY_OF_NAME.format(name='asset_name')} AS key,
                 row_number() OVER (PARTITION BY client_account_id, engagement_id,
                                    {KEY_OF_NAME.format(name='asset_name')}
                                    ORDER BY created_at, id) AS n
          FROM assets) k
    WHERE a.id = k.id"""


def upgrade() -> None:
    op.add_column('assets', sa.Column('asset_key', sa.Text(collation='C'), nullable=True))
    op.add_column('assets', sa.Column('lock_version', sa.Integer(), server_default=sa.text('1'),
                                      nullable=False))
    # The owner running this is subject to FORCE ROW LEVEL SECURITY: lift it for the
    # backfill only, inside this transaction.
    op.execute("ALTER TABLE assets NO FORCE ROW LEVEL SECURITY")
    op.execute(BACKFILL_KEYS)
    op.execute("ALTER TABLE assets FORCE ROW LEVEL SECURITY")
    op.alter_column('assets', 'asset_key', nullable=False)
    op.create_unique_constraint('assets_natural_key', 'assets',
                                ['client_account_id', 'engagement_id', 'asset_key'])
    op.execute(DEFAULT_KEY_FUNCTION)
    op.execute("CREATE TRIGGER assets_default_key BEFORE INSERT ON assets FOR EACH ROW "
               "WHEN (NEW.asset_key IS NULL) EXECUTE FUNCTION assets_default_key()")
    for name, sql_type, expression in GENERATED:
        op.add_column('assets', sa.Column(name, sql_type, sa.Computed(expression, persisted=True),
                                          nullable=True))
    for column in SORT_COLUMNS:
        op.create_index(f'idx_assets_sort_{column}', 'assets',
                        ['client_account_id', 'engagement_id', column, 'id'], unique=False)
    for column in SEARCH_COLUMNS:
        op.create_index(f'idx_assets_search_{column}', 'assets',
                        ['client_account_id', 'engagement_id', column], unique=False)
    for name, _column in SEED_INDEXES:
        op.drop_index(name, table_name='assets')
    op.create_index('idx_assets_dependencies_gin', 'assets', ['dependencies'], unique=False,
                    postgresql_using='gin', postgresql_ops={'dependencies': 'jsonb_path_ops'})
    op.execute(AUDIT_WITHOUT_NESTED_LOOPS)


# PL/pgSQL keeps the plan of the statement-level audit trigger's UPDATE branch (a join of
# the old and new transition tables) from its first run in a connection.  When that run
# saw empty tables (any UPDATE of no rows), the plan is a nested loop, and a later UPDATE
# of n assets on the same pooled connection compares n x n rows: measured 61 s for
# 10,000 assets, and a million-asset re-import never ends.  Without nested loops the
# planner picks a hash or merge join, linear whatever the sizes (2.1 s instead of 17 s
# for 5,000 in the same test).  plan_cache_mode = force_custom_plan does not help.
AUDIT_WITHOUT_NESTED_LOOPS = "ALTER FUNCTION audit_statement_change() SET enable_nestloop = off"


def downgrade() -> None:
    op.execute("ALTER FUNCTION audit_statement_change() RESET enable_nestloop")
    op.drop_index('idx_assets_dependencies_gin', table_name='assets')
    for name, column in SEED_INDEXES:
        op.create_index(name, 'assets', [column], unique=False)
    for column in SEARCH_COLUMNS:
        op.drop_index(f'idx_assets_search_{column}', table_name='assets')
    for column in reversed(SORT_COLUMNS):
        op.drop_index(f'idx_assets_sort_{column}', table_name='assets')
    for name, _, _ in reversed(GENERATED):
        op.drop_column('assets', name)
    op.execute("DROP TRIGGER assets_default_key ON assets")
    op.execute("DROP FUNCTION assets_default_key()")
    op.drop_constraint('assets_natural_key', 'assets', type_='unique')
    op.drop_column('assets', 'lock_version')
    op.drop_column('assets', 'asset_key')
