"""Audit log pages at a million rows: keyset pagination against OFFSET in the same run.

Creates a scratch database on the server in DATABASE_URL (default: the local
postgres superuser), migrates it, inserts 1,000,000 audit entries spread over 20 accounts,
then reads pages as the application role (row-level security in force) through the same
domain function the page uses, `portal.audit.audit_page`:

    first page of one account           keyset, page 1
    200 pages deep (keyset)             the cursor after 10,000 entries
    200 pages deep (OFFSET)             same rows with OFFSET 10,000: the baseline
    filtered page                       table_name + a 30-day range, one account
    user's page                         one user's entries in that account (index
                                        (client_account_id, user_id, timestamp, id))
    all accounts (platform admin)       first page with no account filter

Prints p50/p95 in milliseconds over RUNS runs each, and the EXPLAIN (ANALYZE, BUFFERS)
of the deep keyset query.  The scratch database is dropped at the end, also on error.

    .venv/bin/python benchmarks/audit_log_pages.py
"""
from __future__ import annotations

import os
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import psycopg
from sqlalchemy import Select
from sqlalchemy.orm import Session

from benchmarks.latency import RUNS, timed
from benchmarks.scratch import conninfo, scratch_database, server_url
from portal.audit import AuditFilter, audit_page, audit_query, page_query
from portal.db import TenantContext, app_role_url, make_engine, make_session_factory

ROWS = 1_000_000
ACCOUNTS = 20
USERS_PER_ACCOUNT = 5
PAGE = 50
DEPTH = 200  # pages
DAYS = 365  # the entries span the last year

# One statement, as superuser (bypasses RLS; portal_app cannot write the log at all).
# Tables weighted like a real log: mostly assets and 6R analyses, some auth events.
GENERATE = """
INSERT INTO audit_log (id, table_name, record_id, operation, old_values, new_values,
                       user_id, client_account_id, timestamp)
SELECT gen_random_uuid(), tbl, record, op,
       CASE WHEN op IN ('UPDATE', 'DELETE') THEN body END,
       CASE WHEN op = 'UPDATE' THEN body || jsonb_build_object(
                'cpu_cores', (body->>'cpu_cores')::int * 2, 'power_state', 'poweredOff')
            WHEN op IN ('INSERT', 'LOGIN', 'LOGIN_FAIL') THEN body END,
       actor, account, ts
FROM (
    SELECT tbl, record, actor, account, ts,
           CASE WHEN tbl = 'auth' THEN CASE WHEN roll < 0.8 THEN 'LOGIN' ELSE 'LOGIN_FAIL' END
                WHEN roll < 0.3 THEN 'INSERT' WHEN roll < 0.9 THEN 'UPDATE'
                ELSE 'DELETE' END AS op,
           CASE WHEN tbl = 'auth' THEN jsonb_build_object(
                    'remote_addr', '10.1.' || (i %% 250) || '.' || (i %% 200),
                    'reason', CASE WHEN roll < 0.8 THEN NULL ELSE 'credentials' END)
                ELSE jsonb_build_object(
                    'id', record, 'client_account_id', account,
                    'name', 'srv-' || lpad((i %% 99991)::text, 5, '0'),
                    'hostname', 'srv-' || (i %% 99991) || '.corp.example.com',
                    'ip_address', '10.' || (i %% 250) || '.' || (i %% 199) || '.' || (i %% 97),
                    'os_name', (ARRAY['Ubuntu', 'RHEL', 'Windows Server', 'SLES'])[1 + i %% 4],
                    'cpu_cores', 1 + i %% 32, 'memory_gb', 4 * (1 + i %% 16),
                    'environment', (ARRAY['production', 'staging', 'dev'])[1 + i %% 3],
                    'power_state', 'poweredOn', 'updated_at', ts) END AS body
    FROM (
        SELECT i, random() AS roll,
               (ARRAY['assets', 'assets', 'assets', 'assets', 'assets', 'sixr_analysis',
                      'sixr_analysis', 'engagements', 'discovery_flows', 'auth'])
                   [1 + floor(random() * 10)::int] AS tbl,
               gen_random_uuid() AS record,
               (%(accounts)s::uuid[])[1 + i %% %(n_accounts)s] AS account,
               (%(users)s::uuid[])[1 + (i %% %(n_accounts)s) * %(per_account)s
                                   + (i / %(n_accounts)s) %% %(per_account)s] AS actor,
               now() - (i::float8 / %(rows)s) * %(days)s * interval '1 day'
                     - random() * interval '20 seconds' AS ts
        FROM generate_series(1, %(rows)s) AS i
    ) raw
) shaped
"""


def fill_audit_log(admin_url: str, name: str, accounts: list[uuid.UUID],
                   users: list[uuid.UUID]) -> float:
    """Insert the entries (as superuser), then VACUUM ANALYZE; returns the seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(conninfo(admin_url, name), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SELECT setseed(0.42)")
        conn.execute(GENERATE, {"accounts": accounts, "users": users, "rows": ROWS,
                                "days": DAYS, "n_accounts": ACCOUNTS,
                                "per_account": USERS_PER_ACCOUNT})
        conn.execute("VACUUM (ANALYZE) audit_log")
    return time.perf_counter() - started


def cursor_after_pages(session: Session, account_id: uuid.UUID, pages: int) -> str:
    """Follow `pages` pages by cursor, as a user clicking "Older entries" would."""
    cursor = None
    for _ in range(pages):
        cursor = audit_page(session, account_id, AuditFilter(), cursor, PAGE).next_cursor
    return cursor


def offset_query(account_id: uuid.UUID, skip: int) -> Select:
    """The baseline: the same ordered, filtered query paged with OFFSET."""
    return audit_query(account_id, AuditFilter()).offset(skip).limit(PAGE + 1)


def explain(session: Session, statement: Select) -> list[str]:
    compiled = statement.compile(dialect=session.get_bind().dialect)
    rows = session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params)
    return [row[0] for row in rows]


def measure(app_url: str, accounts: list[uuid.UUID], users: list[uuid.UUID]) -> None:
    engine = make_engine(app_url, pool_size=2, max_overflow=0)
    factory = make_session_factory(engine)
    account = accounts[3]
    one_user = AuditFilter(user_id=users[3 * USERS_PER_ACCOUNT])  # one of that account's
    tenant = TenantContext(client_id=account)
    admin = TenantContext(client_id=account, platform_admin=True)
    today = datetime.now(timezone.utc).date()
    window = AuditFilter(table_name="engagements", date_from=today - timedelta(days=120),
                         date_to=today - timedelta(days=90))
    try:
        with factory(info={"tenant": tenant}) as session:
            deep_cursor = cursor_after_pages(session, account, DEPTH)
            keyset_ids = [e.id for e in audit_page(session, account, AuditFilter(),
                                                   deep_cursor, PAGE).entries]
            offset_ids = [e.id for e in session.scalars(
                offset_query(account, DEPTH * PAGE))][:PAGE]
            assert keyset_ids == offset_ids, "keyset and OFFSET disagree on the deep page"
        cases = [
            ("first page, one account", tenant,
             lambda s: audit_page(s, account, AuditFilter(), None, PAGE)),
            (f"{DEPTH} pages deep, keyset", tenant,
             lambda s: audit_page(s, account, AuditFilter(), deep_cursor, PAGE)),
            (f"{DEPTH} pages deep, OFFSET {DEPTH * PAGE}", tenant,
             lambda s: list(s.scalars(offset_query(account, DEPTH * PAGE)))),
            ("filtered: engagements, 30 days", tenant,
             lambda s: audit_page(s, account, window, None, PAGE)),
            ("filtered: one user", tenant,
             lambda s: audit_page(s, account, one_user, None, PAGE)),
            ("all accounts, platform admin", admin,
             lambda s: audit_page(s, None, AuditFilter(), None, PAGE)),
        ]
        print(f"\n{'query (' + str(RUNS) + ' runs each)':<40} {'p50 ms':>8} {'p95 ms':>8}")
        for label, context, read in cases:
            p50, p95 = timed(factory, context, read)
            print(f"{label:<40} {p50:>8.2f} {p95:>8.2f}")
        with factory(info={"tenant": tenant}) as session:
            plan = explain(session, page_query(account, AuditFilter(), deep_cursor, PAGE))
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the {DEPTH}-pages-deep keyset query:")
        for line in plan:
            print("  " + line)
    finally:
        engine.dispose()


def main() -> None:
    app_password = os.environ.get("PORTAL_APP_DB_PASSWORD") or None
    with scratch_database(server_url(), "portal_bench_audit", app_password) as (name, url):
        print(f"scratch database {name}")
        accounts = [uuid.uuid4() for _ in range(ACCOUNTS)]
        users = [uuid.uuid4() for _ in range(ACCOUNTS * USERS_PER_ACCOUNT)]
        seconds = fill_audit_log(url, name, accounts, users)
        print(f"inserted {ROWS:,} audit entries over {ACCOUNTS} accounts and {DAYS} days, "
              f"vacuumed and analysed in {seconds:.1f} s (as of {date.today()})")
        measure(app_role_url(url, app_password), accounts, users)
    print(f"dropped {name}")


if __name__ == "__main__":
    main()
