"""The asset inventory at a million assets: bulk upsert speed (and what the audit trigger
costs), and the list page's p50/p95 with keyset pagination against OFFSET in the same run.

Creates a scratch database on the server in DATABASE_URL (default: the local postgres
superuser), migrates it, then as the application role (row-level security in force):

    upsert_assets of ROWS records into one engagement         rows/s (audit trigger on)
    the same records again (an unchanged re-import)            rows/s
    the same with one record in ten changed                    rows/s
    AUDIT_ROWS records with the audit trigger on, and off      the trigger's share
    list queries, RUNS runs each, through portal.inventory.asset_page:
      page 1, default sort (name)
      page 500 by keyset (the cursor is found once by following Next 499 times)
      page 500 by OFFSET 24,950                                the baseline
      environment + OS filter, sorted by memory (descending), page 500 by keyset
      prefix search, first page (selective, an IP prefix, and one matching everything)
    the whole HTTP view of page 500 through the Flask test client (p95)

Other accounts hold OTHER_ROWS assets each, so the tenant predicate has work to do.
Prints a table and the EXPLAIN (ANALYZE, BUFFERS) of the deep keyset queries.  The scratch
database is dropped at the end, also on error.

    .venv/bin/python -m benchmarks.asset_list [--rows 1000000]
"""
from __future__ import annotations

import argparse
import random
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.latency import RUNS, percentiles, timed
from benchmarks.scratch import conninfo, scratch_database, server_url
from portal import inventory
from portal.db import TenantContext, app_role_url, make_engine, make_session_factory
from portal.inventory import AssetFilter
from portal.models import Asset

PAGE = 50
DEPTH = 500      # pages
OTHER_ACCOUNTS = 3
OTHER_ROWS = 50_000
AUDIT_ROWS = 100_000
OSES = ["Ubuntu", "Red Hat Enterprise Linux", "Windows Server", "SUSE Linux Enterprise",
        "CentOS", "Debian"]
ENVIRONMENTS = ["production", "staging", "development", "test"]
CRITICALITIES = ["critical", "high", "medium", "low"]
FILTERED = AssetFilter(environment="production", os_name="Windows Server")


def records(count: int, prefix: str = "srv", seed: int = 42) -> Iterator[dict]:
    """Inventory records as the discovery flow hands them over (coerced canonical values
    plus the unmapped source columns)."""
    rng = random.Random(seed)
    for i in range(count):
        yield {
            "name": f"{prefix}-{i:07d}", "hostname": f"{prefix}-{i:07d}.dc{i % 7}.corp.example",
            "ip_address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            "asset_type": "server" if i % 10 else "database",
            "environment": ENVIRONMENTS[rng.randrange(4)], "os_name": OSES[i % 6],
            "os_version": str(rng.choice((7, 8, 2019, 2022, 22.04))),
            "cpu_cores": rng.choice((2, 4, 8, 16, 32)),
            "memory_gb": rng.choice((4, 8, 16, 24, 32, 64, 128)),
            "application": f"app-{i % 500:03d}", "owner": f"team{i % 40}@example.com",
            "business_criticality": CRITICALITIES[rng.randrange(4)],
            "location": rng.choice(("Reading DC", "Slough DC", "Frankfurt")),
            "depends_on": [f"{prefix}-{(i * 7 + 1) % count:07d}"] if i % 3 == 0 else None,
            "_extra": {"Rack": f"R{i % 300}", "Cost centre": f"CC{i % 90}"},
        }


def one_in_ten_changed(rows: Iterator[dict]) -> Iterator[dict]:
    """The same export a month later: every tenth server has a new OS version."""
    for i, row in enumerate(rows):
        if i % 10 == 0:
            row["os_version"] = "patched"
        yield row


# --- scratch database (benchmarks.scratch) -------------------------------------------
def make_tenants(admin_url: str) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    """The measured account (three engagements: the list, the audit-on and audit-off
    samples) and the other accounts, each with one engagement.  As superuser."""
    tenants = [(uuid.uuid4(), [uuid.uuid4() for _ in range(3)])]
    tenants += [(uuid.uuid4(), [uuid.uuid4()]) for _ in range(OTHER_ACCOUNTS)]
    with psycopg.connect(conninfo(admin_url)) as conn:
        for n, (account, engagements) in enumerate(tenants):
            conn.execute("INSERT INTO client_accounts (id, name, slug) VALUES (%s, %s, %s)",
                         (account, f"Account {n}", f"account-{n}"))
            for m, engagement in enumerate(engagements):
                conn.execute("INSERT INTO engagements (id, client_account_id, name, slug) "
                             "VALUES (%s, %s, %s, %s)",
                             (engagement, account, f"Engagement {m}", f"engagement-{m}"))
    return tenants


def make_provenance(admin_url: str, account: uuid.UUID,
                    engagement: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """An import and a discovery flow for the assets to point at, as a flow's would (so
    the measured upsert pays for those two foreign-key checks too)."""
    data_import, master, flow = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(conninfo(admin_url)) as conn:
        conn.execute("INSERT INTO data_imports (id, client_account_id, engagement_id, filename)"
                     " VALUES (%s, %s, %s, 'inventory.csv')", (data_import, account, engagement))
        conn.execute("INSERT INTO master_flows (id, flow_id, client_account_id, engagement_id,"
                     " user_id, flow_type, flow_name) VALUES (%s, %s, %s, %s, 'bench',"
                     " 'discovery', 'Bench')", (uuid.uuid4(), master, account, engagement))
        conn.execute("INSERT INTO discovery_flows (id, flow_id, master_flow_id,"
                     " client_account_id, engagement_id, user_id, flow_name, data_import_id)"
                     " VALUES (%s, %s, %s, %s, %s, 'bench', 'Bench', %s)",
                     (uuid.uuid4(), flow, master, account, engagement, data_import))
    return data_import, flow


def set_audit_trigger(admin_url: str, enabled: bool) -> None:
    action = "ENABLE" if enabled else "DISABLE"
    with psycopg.connect(conninfo(admin_url)) as conn:
        conn.execute(f"ALTER TABLE assets {action} TRIGGER audit_assets_insert")


def vacuum_analyze(admin_url: str) -> None:
    with psycopg.connect(conninfo(admin_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) assets")
        conn.execute("VACUUM (ANALYZE) audit_log")


# --- measuring ----------------------------------------------------------------------------
def timed_upsert(factory: sessionmaker[Session], account: uuid.UUID, engagement: uuid.UUID,
                 rows: Iterator[dict], provenance: tuple[uuid.UUID | None, uuid.UUID | None]
                 = (None, None)) -> tuple[float, inventory.UpsertCounts]:
    context = TenantContext(client_id=account, engagement_id=engagement)
    data_import, flow = provenance
    with factory(info={"tenant": context}) as session:
        started = time.perf_counter()
        counts = inventory.upsert_assets(session, account, engagement, rows,
                                         import_id=data_import, discovery_flow_id=flow)
        session.commit()
        return time.perf_counter() - started, counts


def cursor_at_page(session: Session, account: uuid.UUID, engagement: uuid.UUID,
                   f: AssetFilter, sort: str, page: int) -> str:
    """Follow Next `page - 1` times, as a user clicking through would."""
    cursor = None
    for _ in range(page - 1):
        cursor = inventory.asset_page(session, account, engagement, f, sort, cursor,
                                      PAGE).next_cursor
    return cursor


def explain(session: Session, statement) -> list[str]:
    compiled = statement.compile(dialect=session.get_bind().dialect)
    rows = session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params)
    return [row[0] for row in rows]


def keyset_statement(account, engagement, f, sort, cursor):
    """The statement asset_page runs for the page after `cursor` (its first range)."""
    ordering = inventory.parse_ordering(sort)
    value, asset_id = inventory.decode_cursor(ordering, cursor)
    first_range = inventory._beyond(ordering, value, asset_id)[0]
    return (select(Asset).where(*inventory.filter_conditions(account, engagement, f),
                                first_range)
            .order_by(*ordering.order_by()).limit(PAGE + 1))


def offset_statement(account, engagement, skip: int):
    ordering = inventory.parse_ordering("name")
    return (select(Asset).where(*inventory.filter_conditions(account, engagement,
                                                             AssetFilter()))
            .order_by(*ordering.order_by()).offset(skip).limit(PAGE + 1))


def measure_queries(factory, account: uuid.UUID, engagement: uuid.UUID) -> list[tuple]:
    tenant = TenantContext(client_id=account, engagement_id=engagement)
    with factory(info={"tenant": tenant}) as session:
        deep = cursor_at_page(session, account, engagement, AssetFilter(), "name", DEPTH)
        deep_filtered = cursor_at_page(session, account, engagement, FILTERED, "-memory",
                                       DEPTH)
        keyset_ids = [a.id for a in inventory.asset_page(
            session, account, engagement, AssetFilter(), "name", deep, PAGE).rows]
        offset_ids = [a.id for a in session.scalars(
            offset_statement(account, engagement, (DEPTH - 1) * PAGE))][:PAGE]
        assert keyset_ids == offset_ids, "keyset and OFFSET disagree on page 500"
        plans = {
            "page 500, keyset, by name": explain(session, keyset_statement(
                account, engagement, AssetFilter(), "name", deep)),
            "page 500, environment + OS, by memory desc": explain(session, keyset_statement(
                account, engagement, FILTERED, "-memory", deep_filtered)),
        }

    def page(f, sort, cursor=None):
        return lambda s: inventory.asset_page(s, account, engagement, f, sort, cursor, PAGE)

    cases = [
        ("page 1, by name", page(AssetFilter(), "name")),
        (f"page {DEPTH}, keyset, by name", page(AssetFilter(), "name", deep)),
        (f"page {DEPTH}, OFFSET {(DEPTH - 1) * PAGE:,}, by name",
         lambda s: list(s.scalars(offset_statement(account, engagement,
                                                   (DEPTH - 1) * PAGE)))),
        (f"page {DEPTH}, env + OS filter, by memory desc",
         page(FILTERED, "-memory", deep_filtered)),
        ("search 'srv-00123' (100 hits), page 1", page(AssetFilter(q="srv-00123"), "name")),
        ("search '10.0.12' (IP prefix), by memory", page(AssetFilter(q="10.0.12"), "memory")),
        ("search 'srv-0' (every asset), page 1", page(AssetFilter(q="srv-0"), "name")),
    ]
    results = [(label, *timed(factory, tenant, read)) for label, read in cases]
    return results, plans, deep


# --- the HTTP view ------------------------------------------------------------------------
def csrf_token_from(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def measure_http(admin_url: str, account: uuid.UUID, engagement: uuid.UUID,
                 cursor: str) -> tuple[float, float]:
    """p50/p95 (ms) of GET /assets/?after=<page 500 cursor> through the Flask test client,
    logged in as a viewer of the account (the whole request: tenancy, query, template)."""
    import tempfile

    from cryptography.fernet import Fernet

    from portal import create_app
    from portal.accounts import add_member, create_user
    from portal.config import Settings
    from portal.db import session_scope
    from portal.models import ClientAccount

    password = secrets.token_urlsafe(16)
    settings = Settings(instance_path=Path(tempfile.mkdtemp()), database_url=admin_url,
                        secret_key=secrets.token_urlsafe(32),
                        encryption_key=Fernet.generate_key().decode(),
                        lookup_key=secrets.token_urlsafe(32), app_db_password=None,
                        session_cookie_secure=False, max_upload_bytes=1 << 20,
                        login_max_failures=5, login_window_seconds=900)
    app = create_app({"TESTING": True}, settings=settings)
    factory = app.extensions["portal"].session_factory
    with session_scope(factory, TenantContext(platform_admin=True, client_id=account)) as s:
        user = create_user(s, "bench@example.com", password)
        add_member(s, s.get(ClientAccount, account), user, "viewer")
    client = app.test_client()
    token = csrf_token_from(client.get("/login").text)
    client.post("/login", data={"email": "bench@example.com", "password": password,
                                "csrf_token": token})
    token = csrf_token_from(client.get("/engagements/").text)
    client.post("/engagements/switch", data={"engagement_id": str(engagement),
                                             "csrf_token": token})
    samples = []
    for run in range(RUNS + 1):
        started = time.perf_counter()
        response = client.get(f"/assets/?after={cursor}", headers={"HX-Request": "true"}
                              if run % 2 else {})
        assert response.status_code == 200, response.status_code
        if run:
            samples.append((time.perf_counter() - started) * 1000)
    app.extensions["portal"].engine.dispose()
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with scratch_database(server_url(), "portal_bench_assets") as (name, url):
        print(f"scratch database {name}")
        tenants = make_tenants(url)
        (account, (engagement, audit_on, audit_off)), others = tenants[0], tenants[1:]
        engine = make_engine(app_role_url(url, None), pool_size=2, max_overflow=0)
        factory = make_session_factory(engine)
        figures = []
        for n, (other, (other_engagement,)) in enumerate(others):
            timed_upsert(factory, other, other_engagement,
                         records(OTHER_ROWS, prefix=f"o{n}", seed=n))
        provenance = make_provenance(url, account, engagement)
        seconds, counts = timed_upsert(factory, account, engagement, records(args.rows),
                                       provenance)
        assert counts.created == args.rows, counts
        figures.append((f"upsert_assets, {args.rows:,} new assets", seconds, args.rows))
        seconds, counts = timed_upsert(factory, account, engagement, records(args.rows),
                                       provenance)
        assert counts.unchanged == args.rows, counts
        figures.append((f"upsert_assets, same {args.rows:,} again", seconds, args.rows))
        seconds, counts = timed_upsert(factory, account, engagement,
                                       one_in_ten_changed(records(args.rows)), provenance)
        assert counts.updated == (args.rows + 9) // 10, counts
        figures.append((f"upsert_assets, {args.rows:,} with 1 in 10 changed", seconds,
                        args.rows))
        seconds, _ = timed_upsert(factory, account, audit_on, records(AUDIT_ROWS, "a"),
                                  make_provenance(url, account, audit_on))
        figures.append((f"upsert_assets, {AUDIT_ROWS:,} new, audit on", seconds, AUDIT_ROWS))
        set_audit_trigger(url, False)
        seconds, _ = timed_upsert(factory, account, audit_off, records(AUDIT_ROWS, "a"),
                                  make_provenance(url, account, audit_off))
        set_audit_trigger(url, True)
        figures.append((f"upsert_assets, {AUDIT_ROWS:,} new, audit off", seconds, AUDIT_ROWS))
        print(f"\n{'bulk upsert (as portal_app)':<46} {'seconds':>8} {'rows/s':>10}")
        for label, seconds, rows in figures:
            print(f"{label:<46} {seconds:>8.1f} {rows / seconds:>10,.0f}")
        on, off = figures[3][1], figures[4][1]
        print(f"audit trigger share of a new-asset upsert: {(on - off) / on:.0%}")
        vacuum_analyze(url)
        results, plans, deep = measure_queries(factory, account, engagement)
        http = measure_http(url, account, engagement, deep)
        print(f"\n{'list query (' + str(RUNS) + ' runs each)':<52} {'p50 ms':>8} {'p95 ms':>8}")
        for label, p50, p95 in [*results, (f"HTTP GET /assets/ page {DEPTH} (view + template)",
                                           *http)]:
            print(f"{label:<52} {p50:>8.2f} {p95:>8.2f}")
        for label, plan in plans.items():
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) {label}:")
            for line in plan:
                print("  " + line)
        engine.dispose()
    print(f"dropped {name}")


if __name__ == "__main__":
    main()
