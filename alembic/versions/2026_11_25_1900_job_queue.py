"""Durable job queue: procrastinate's tables, types and functions, in their own PostgreSQL
schema `procrastinate`, owned by portal_owner; portal_app gets exactly what a worker and a
deferring web request need.

Why a schema of its own: the queue is not tenant data (no client_account_id, no RLS: a
job's arguments carry the ids and the job sets the tenant itself), it stays out of the
models' autogenerate comparison (Alembic compares `public` only), and downgrade is one
DROP SCHEMA.  Its functions carry their own search path; workers put the schema on theirs
(connection options), deferring transactions for the one statement (portal/flows/jobs.py).

The SQL is procrastinate's own (`SchemaManager.get_schema()`) for the version pinned when
this was written; a newer package with a different schema stops the migration rather than
silently creating something later migrations do not expect.

Revision ID: e4fa58d3eeae
Revises: 88fe0828eaa2
Create Date: 2026-11-25 19:00:00
"""
import hashlib

from alembic import op
from procrastinate.schema import SchemaManager

from portal.config import APP_ROLE, OWNER_ROLE

revision = 'e4fa58d3eeae'
down_revision = '88fe0828eaa2'
branch_labels = None
depends_on = None

SCHEMA = "procrastinate"
WRITTEN_FOR = "procrastinate 3.10.0"
SCHEMA_SHA256 = "c70ec4b400a60ad9592787653aae5ae77ae41bf801d56b5bd2712751a07f2009"

GRANTS = [
    f"GRANT USAGE ON SCHEMA {SCHEMA} TO {APP_ROLE}",
    # Workers fetch, finish, retry and delete jobs, register themselves and beat hearts;
    # periodic defers are inserted and pruned.
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON {SCHEMA}.procrastinate_jobs, "
    f"{SCHEMA}.procrastinate_workers, {SCHEMA}.procrastinate_periodic_defers TO {APP_ROLE}",
    # Events are written by triggers that run as the caller, and read when pruning old jobs;
    # the cascade from deleted jobs runs as the table owner.
    f"GRANT SELECT, INSERT ON {SCHEMA}.procrastinate_events TO {APP_ROLE}",
    f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {APP_ROLE}",
    # Functions are executable by PUBLIC by default: only the app role needs them.
    f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC",
    f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {SCHEMA} TO {APP_ROLE}",
]


# procrastinate's functions and triggers name its tables without a schema: pin their search
# path, so they work whatever the caller's is (an operator's psql, a deferring web request).
PIN_SEARCH_PATH = f"""
    DO $$
    DECLARE fn regprocedure;
    BEGIN
        FOR fn IN SELECT p.oid::regprocedure FROM pg_proc p
                  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '{SCHEMA}'
        LOOP
            EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, {SCHEMA}', fn);
        END LOOP;
    END $$"""


def procrastinate_schema_sql() -> str:
    sql = SchemaManager.get_schema()
    if hashlib.sha256(sql.encode()).hexdigest() != SCHEMA_SHA256:
        raise RuntimeError(
            f"the installed procrastinate's schema differs from {WRITTEN_FOR}'s, which this "
            "migration applies: install that version, or add a migration for the new one")
    return sql


def upgrade() -> None:
    sql = procrastinate_schema_sql()
    # CREATE SCHEMA needs CREATE on the database, which the owner role does not hold: the
    # session's own user (superuser, or the database's owner) creates it for portal_owner.
    op.execute("RESET ROLE")
    op.execute(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {OWNER_ROLE}")
    op.execute(f"SET ROLE {OWNER_ROLE}")
    connection = op.get_bind()
    previous_path = connection.exec_driver_sql("SHOW search_path").scalar()
    connection.exec_driver_sql(f"SET LOCAL search_path = {SCHEMA}")
    # Many statements with dollar-quoted bodies and literal '%': run as one simple query
    # on the driver connection (no parameter parsing).
    connection.connection.driver_connection.execute(sql)
    # Later migrations in this same transaction must create their objects in public.
    connection.exec_driver_sql(
        "SELECT set_config('search_path', %(path)s, true)", {"path": previous_path})
    op.execute(PIN_SEARCH_PATH)
    for statement in GRANTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
