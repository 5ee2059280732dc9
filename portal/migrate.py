"""Database bootstrap (roles and grants) and Alembic migrations, run with an admin URL.

`portal_owner` owns every object and runs the migrations; `portal_app` (what the web app
and the workers connect as) owns nothing and is subject to row-level security;
`portal_summary` exists only to own and refresh the `engagement_summary` materialized view
across tenants (BYPASSRLS, NOLOGIN, SELECT on three tables).
"""
from __future__ import annotations

from alembic import command
from psycopg import sql
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from portal.config import APP_ROLE, OWNER_ROLE, PROJECT_ROOT, SUMMARY_ROLE
from portal.db import normalise_url


class BootstrapError(RuntimeError):
    """The database cannot be prepared; the message says what to do."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() \
        is not None


def bootstrap_roles(conn: Connection, app_password: str | None) -> None:
    """Create the three roles if missing and grant what they need on this database.
    Idempotent.  Needs a superuser, or roles created beforehand by one."""
    is_superuser = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))\
        .scalar()
    if not is_superuser:
        missing = [r for r in (OWNER_ROLE, APP_ROLE, SUMMARY_ROLE) if not _role_exists(conn, r)]
        if missing:
            raise BootstrapError(
                f"roles {', '.join(missing)} do not exist and {conn.engine.url.username} may not "
                "create them: run 'portal db upgrade' once with a superuser DATABASE_URL")
        return
    database = conn.execute(text("SELECT current_database()")).scalar()
    statements = []
    if not _role_exists(conn, OWNER_ROLE):
        statements.append(f"CREATE ROLE {OWNER_ROLE} NOLOGIN")
    if not _role_exists(conn, SUMMARY_ROLE):
        statements.append(f"CREATE ROLE {SUMMARY_ROLE} NOLOGIN BYPASSRLS")
    if not _role_exists(conn, APP_ROLE):
        statements.append(f"CREATE ROLE {APP_ROLE} LOGIN")
    statements += [
        # Re-assert the attributes every time: a role created by hand stays least-privileged.
        f"ALTER ROLE {APP_ROLE} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT",
        f"ALTER ROLE {OWNER_ROLE} NOSUPERUSER NOBYPASSRLS",
        f"GRANT {SUMMARY_ROLE} TO {OWNER_ROLE}",
        # TEMPORARY: bulk staging COPYs into a temp table (COPY cannot target RLS tables).
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {APP_ROLE}',
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {OWNER_ROLE}',
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        # The summary role owns one materialized view, and an owner needs CREATE there.
        f"GRANT USAGE, CREATE ON SCHEMA public TO {OWNER_ROLE}, {SUMMARY_ROLE}",
        f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}",
    ]
    for statement in statements:
        conn.execute(text(statement))
    if app_password:
        # A bind parameter is not allowed in ALTER ROLE: let psycopg quote the literal.
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(APP_ROLE), sql.Literal(app_password))
        conn.exec_driver_sql(statement.as_string(conn.connection.driver_connection))


def _with_owner(admin_url: str, action) -> None:
    engine = create_engine(normalise_url(admin_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET ROLE {OWNER_ROLE}"))
            conn.commit()
            action(conn)
    finally:
        engine.dispose()


def upgrade(admin_url: str, app_password: str | None = None, revision: str = "head") -> None:
    """Bootstrap roles if missing, then migrate to `revision` as the owner role."""
    engine = create_engine(normalise_url(admin_url), poolclass=NullPool,
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            bootstrap_roles(conn, app_password)
    finally:
        engine.dispose()
    _with_owner(admin_url, lambda conn: command.upgrade(alembic_config(conn), revision))


def downgrade(admin_url: str, revision: str = "-1") -> None:
    _with_owner(admin_url, lambda conn: command.downgrade(alembic_config(conn), revision))


def check(admin_url: str) -> None:
    """Raise if the models and the migrated schema differ (alembic check)."""
    _with_owner(admin_url, lambda conn: command.check(alembic_config(conn)))


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()
