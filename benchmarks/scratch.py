"""Scratch databases for the benchmarks: each run creates its own database on the server in
DATABASE_URL, migrates it, and drops it again (also on error), so figures never depend on
what an earlier run or a test left behind."""
from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The server the benchmarks run against (a superuser's URL)."""
    return os.environ.get("DATABASE_URL", DEFAULT_SERVER)


def conninfo(url: str, database: str | None = None) -> str:
    """A libpq connection string for psycopg from a SQLAlchemy URL, optionally naming
    another database on the same server."""
    parsed = make_url(url).set(drivername="postgresql")
    return (parsed.set(database=database) if database else parsed).render_as_string(
        hide_password=False)


@contextmanager
def scratch_database(server: str, prefix: str,
                     app_password: str | None = None) -> Iterator[tuple[str, str]]:
    """(name, admin URL) of a new, migrated database named after `prefix` (the
    application role gets `app_password`, if any), dropped on exit whatever happens."""
    from portal import migrate

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo(server, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url, app_password)
        yield name, url
    finally:
        with psycopg.connect(conninfo(server, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class BenchTenant:
    account_id: uuid.UUID
    engagement_id: uuid.UUID
    account_slug: str
    engagement_slug: str


def create_bench_tenant(admin_url: str) -> BenchTenant:
    """An account with one engagement, made through the portal's own functions as the
    platform operator (application role, row-level security in force).  The caller has
    configured `portal.crypto`."""
    from portal.accounts import create_account, create_engagement
    from portal.db import TenantContext, app_role_url, make_engine, make_session_factory, \
        session_scope, set_tenant

    engine = make_engine(app_role_url(admin_url, None), pool_size=1)
    try:
        operator = TenantContext(platform_admin=True)
        with session_scope(make_session_factory(engine), operator) as session:
            account = create_account(session, "Bench", f"bench-{secrets.token_hex(3)}")
            set_tenant(session, operator.with_(client_id=account.id))
            engagement = create_engagement(session, account, "Bench", "bench")
            return BenchTenant(account.id, engagement.id, account.slug, engagement.slug)
    finally:
        engine.dispose()


def raw_copy_seconds(admin_url: str, path) -> float:
    """The baseline: seconds PostgreSQL's COPY takes to load the CSV file at `path` (with a
    header line) into a plain table of text columns, as the superuser, no Python between."""
    import csv
    import time

    with open(path, newline="") as handle:
        width = len(next(csv.reader(handle)))
    with psycopg.connect(conninfo(admin_url)) as conn:
        conn.execute("CREATE TABLE raw_copy (" + ", ".join(f"c{i} text" for i in range(width))
                     + ")")
        started = time.perf_counter()
        with conn.cursor().copy("COPY raw_copy FROM STDIN (FORMAT csv, HEADER)") as copy, \
                open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE raw_copy")
        conn.commit()
    return seconds
