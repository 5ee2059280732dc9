"""The asset inventory's domain layer: idempotent bulk upsert on the normalised name,
filters, keyset pagination for every sort (ties and unknown values included), cursors that
refuse tampering, dependencies both ways, history, editing under optimistic locking, and
exports that cannot run formulas."""
from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from sqlalchemy import func, select, text

from portal import inventory
from portal.db import set_tenant
from portal.errors import DomainError, NotFound
from portal.inventory import AssetFilter, InvalidCursor, UpsertCounts
from portal.locking import EditConflict
from portal.models import Asset, AuditLog, DataImport


@pytest.fixture
def tenant(people, db_session):
    """An account and engagement, with the session acting inside the account."""
    account = people.account(name="Inventory")
    engagement = people.engagement(account, "Wave 1")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    return account, engagement


def upsert(db_session, tenant, records, import_id=None) -> UpsertCounts:
    account, engagement = tenant
    return inventory.upsert_assets(db_session, account.id, engagement.id, records,
                                   import_id=import_id, discovery_flow_id=None)


def assets_of(db_session, tenant) -> list[Asset]:
    account, engagement = tenant
    return list(db_session.scalars(select(Asset).where(
        Asset.client_account_id == account.id, Asset.engagement_id == engagement.id)
        .order_by(Asset.asset_key)))


def audit_count(db_session, tenant) -> int:
    """The tenant's asset audit entries (other tests commit assets of their own)."""
    return db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.table_name == "assets", AuditLog.client_account_id == tenant[0].id))


SERVERS = [
    {"name": "web-01", "hostname": "web-01.corp.example.com", "ip_address": "10.0.0.1",
     "os_name": "Ubuntu", "os_version": "22.04", "cpu_cores": 4, "memory_gb": 8,
     "environment": "production", "asset_type": "server", "application": "Shop",
     "depends_on": ["db-01"], "_extra": {"Rack": "A1", "Empty": ""}},
    {"name": "web-02", "ip_address": "10.0.0.2", "os_name": "Ubuntu", "cpu_cores": 4,
     "memory_gb": 8, "environment": "production", "asset_type": "server",
     "application": "Shop", "depends_on": ["db-01", "DB-01 "]},
    {"name": "db-01", "ip_address": "10.0.1.5", "os_name": "Windows Server", "cpu_cores": 8,
     "memory_gb": 32.5, "environment": "production", "asset_type": "database",
     "business_criticality": "High"},
]


# --- upsert -------------------------------------------------------------------------------
def test_import_creates_assets_and_reimport_of_the_same_file_writes_nothing(db_session,
                                                                             tenant):
    assert upsert(db_session, tenant, SERVERS) == UpsertCounts(3, 0, 0)
    audited = audit_count(db_session, tenant)
    assert audited == 3  # one INSERT entry per asset (statement-level trigger)
    assert upsert(db_session, tenant, SERVERS) == UpsertCounts(0, 0, 3)
    assert audit_count(db_session, tenant) == audited  # nothing changed, nothing written
    assert [a.lock_version for a in assets_of(db_session, tenant)] == [1, 1, 1]


def test_reimport_of_a_changed_export_updates_in_place(db_session, tenant):
    upsert(db_session, tenant, SERVERS)
    before = {a.asset_key: a.id for a in assets_of(db_session, tenant)}
    changed = [dict(SERVERS[0], os_version="24.04", memory_gb=16), SERVERS[1], SERVERS[2]]
    assert upsert(db_session, tenant, changed) == UpsertCounts(0, 1, 2)
    after = assets_of(db_session, tenant)
    assert {a.asset_key: a.id for a in after} == before  # same rows, no duplicates
    web = next(a for a in after if a.asset_key == "web-01")
    assert web.specifications["os_version"] == "24.04"
    assert web.memory_gb == 16 and web.lock_version == 2


def test_whitespace_and_case_variants_of_a_name_are_one_asset(db_session, tenant):
    counts = upsert(db_session, tenant, [{"name": "Web 01", "os_name": "RHEL"},
                                         {"name": "  web   01 ", "cpu_cores": 2}])
    assert counts == UpsertCounts(1, 0, 0)  # the last spelling wins within one batch
    assert upsert(db_session, tenant, [{"name": "WEB 01", "cpu_cores": 2}]) \
        == UpsertCounts(0, 1, 0)
    [asset] = assets_of(db_session, tenant)
    assert (asset.asset_key, asset.asset_name, asset.cpu_cores) == ("web 01", "WEB 01", 2)


def test_every_field_is_kept_and_provenance_recorded(db_session, tenant):
    account, engagement = tenant
    data_import = DataImport(client_account_id=account.id, engagement_id=engagement.id,
                             filename="cmdb.csv")
    db_session.add(data_import)
    db_session.flush()
    upsert(db_session, tenant, SERVERS, import_id=data_import.id)
    web = next(a for a in assets_of(db_session, tenant) if a.asset_key == "web-01")
    assert (web.asset_type, web.environment, web.os_name, web.cpu_cores) == \
        ("server", "production", "Ubuntu", 4)
    assert web.specifications["hostname"] == "web-01.corp.example.com"
    assert web.specifications["source_columns"] == {"Rack": "A1"}  # blank cells dropped
    assert web.dependencies == [{"target": "db-01", "key": "db-01"}]
    assert web.discovered_from_import_id == data_import.id


def test_duplicate_targets_collapse_and_blank_fields_keep_their_value(db_session, tenant):
    upsert(db_session, tenant, SERVERS)
    web2 = next(a for a in assets_of(db_session, tenant) if a.asset_key == "web-02")
    assert [d["key"] for d in web2.dependencies] == ["db-01"]
    # A later export without the OS column does not erase the OS the first one gave.
    assert upsert(db_session, tenant, [{"name": "web-02", "cpu_cores": 4}]) \
        == UpsertCounts(0, 0, 1)
    db_session.refresh(web2)
    assert web2.os_name == "Ubuntu" and web2.dependencies


def test_a_reimport_after_an_empty_update_writes_one_audit_entry_per_change(db_session,
                                                                          tenant):
    """An UPDATE of no assets (statement triggers still fire) must not leave the audit
    trigger a plan that compares every pair of rows of the next big update: the function
    runs without nested loops (the timing is in benchmarks/asset_list.py)."""
    upsert(db_session, tenant, SERVERS)
    db_session.execute(Asset.__table__.update().where(Asset.asset_key == "none")
                       .values(risk_score=1))
    before = audit_count(db_session, tenant)
    changed = [dict(record, os_version="patched") for record in SERVERS]
    assert upsert(db_session, tenant, changed) == UpsertCounts(0, 3, 0)
    assert audit_count(db_session, tenant) == before + 3
    settings = db_session.scalar(text(
        "SELECT proconfig FROM pg_proc WHERE proname = 'audit_statement_change'"))
    assert "enable_nestloop=off" in settings


def test_the_statement_audit_logs_the_kept_columns_of_inserts_updates_and_deletes(
        db_session, tenant):
    """Assets are audited per statement, without the assessment's columns (skipped)."""
    assessed = {"sixr_recommendation", "complexity_score", "risk_score", "last_analyzed"}
    kept = {column.name for column in Asset.__table__.columns} - assessed
    upsert(db_session, tenant, SERVERS)

    def entries(operation: str) -> list[AuditLog]:
        return list(db_session.scalars(select(AuditLog).where(
            AuditLog.table_name == "assets", AuditLog.client_account_id == tenant[0].id,
            AuditLog.operation == operation).order_by(AuditLog.id)))

    inserted = entries("INSERT")
    assert len(inserted) == 3 and all(e.new_values.keys() == kept for e in inserted)
    assert {e.id.version for e in inserted} == {7}
    assert [e.new_values["asset_name"] for e in inserted] == ["web-01", "web-02", "db-01"]
    web = next(a for a in assets_of(db_session, tenant) if a.asset_name == "web-01")
    db_session.execute(Asset.__table__.update().where(Asset.id == web.id)
                       .values(risk_score=70, complexity_score=20))
    assert entries("UPDATE") == []  # only skipped columns changed
    db_session.execute(Asset.__table__.update().where(Asset.id == web.id)
                       .values(environment="staging", risk_score=71))
    [update] = entries("UPDATE")
    assert (update.old_values, update.new_values) == ({"environment": "production"},
                                                      {"environment": "staging"})
    db_session.execute(Asset.__table__.delete().where(Asset.id == web.id))
    [deleted] = entries("DELETE")
    assert deleted.record_id == web.id and deleted.old_values.keys() == kept
    assert deleted.old_values["environment"] == "staging"


def test_records_without_a_name_are_skipped_and_counted(db_session, tenant):
    counts = upsert(db_session, tenant, [{"ip_address": "10.9.9.9"},
                                         {"fqdn": "app7.corp.example.com"}])
    assert counts == UpsertCounts(1, 0, 0, skipped=1)
    assert [a.asset_name for a in assets_of(db_session, tenant)] == ["app7"]


def test_upsert_stays_inside_its_engagement(db_session, tenant, people):
    account, engagement = tenant
    other = people.engagement(account, "Wave 2")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    upsert(db_session, tenant, SERVERS[:1])
    counts = inventory.upsert_assets(db_session, account.id, other.id, SERVERS[:1],
                                     import_id=None, discovery_flow_id=None)
    assert counts == UpsertCounts(1, 0, 0)  # the same name in another engagement is new


def test_resolved_dependencies_survive_a_reimport_until_depends_on_changes(db_session,
                                                                           tenant):
    account, engagement = tenant
    upsert(db_session, tenant, SERVERS)
    resolved = [{"target": "db-01", "key": "db-01", "ports": [5432]}]
    assert inventory.store_dependencies(db_session, account.id, engagement.id,
                                        [("web-01", resolved), ("nope", [])]) == 1
    assert upsert(db_session, tenant, SERVERS) == UpsertCounts(0, 0, 3)
    web = asset_named(db_session, tenant, "web-01")
    assert web.dependencies == resolved and web.specifications["depends_on"] == ["db-01"]
    upsert(db_session, tenant, [dict(SERVERS[0], depends_on=["db-01", "cache-01"])])
    web = asset_named(db_session, tenant, "web-01")
    assert [d["key"] for d in web.dependencies] == ["db-01", "cache-01"]


def test_stored_tech_debt_feeds_the_filter_and_the_sort(db_session, tenant):
    account, engagement = tenant
    upsert(db_session, tenant, SERVERS)
    verdicts = [("web-01", {"status": "unsupported", "score": 95, "reasons": ["EOL"]}),
                ("db-01", {"status": "supported", "score": 12.5})]
    assert inventory.store_tech_debt(db_session, account.id, engagement.id, verdicts) == 2
    assert inventory.store_tech_debt(db_session, account.id, engagement.id, verdicts) == 0
    assert names(db_session, tenant, AssetFilter(tech_debt="flagged")) == ["web-01"]
    assert names(db_session, tenant, AssetFilter(), "-tech_debt") == ["web-02", "web-01",
                                                                      "db-01"]
    web = asset_named(db_session, tenant, "web-01")
    assert web.migration_readiness["tech_debt"]["reasons"] == ["EOL"] and web.lock_version == 2


def test_new_assets_start_with_the_readiness_given_and_existing_ones_keep_theirs(
        db_session, tenant):
    """The discovery flow writes a new asset's tech-debt verdict with its insert (one row
    version, one audit entry); an existing asset's readiness is the tech-debt phase's to
    change, so a re-import neither overwrites it nor counts the asset as updated."""
    account, engagement = tenant
    verdict = {"status": "unsupported", "score": 95}
    shared = json.dumps({"tech_debt": verdict})  # one verdict object for many assets

    def readiness(record):
        return shared if record["name"] != "db-01" else None

    assert inventory.upsert_assets(db_session, account.id, engagement.id, SERVERS[:2],
                                   import_id=None, discovery_flow_id=None,
                                   new_readiness=readiness) == UpsertCounts(2, 0, 0)
    web = asset_named(db_session, tenant, "web-01")
    assert web.migration_readiness == {"tech_debt": verdict} and web.lock_version == 1
    assert audit_count(db_session, tenant) == 2  # inserted once, never updated
    assert inventory.store_tech_debt(db_session, account.id, engagement.id,
                                     [("web-01", verdict), ("web-02", verdict)]) == 0
    other = json.dumps({"tech_debt": {"status": "supported", "score": 1}})
    assert inventory.upsert_assets(db_session, account.id, engagement.id, SERVERS,
                                   import_id=None, discovery_flow_id=None,
                                   new_readiness=lambda record: other) == UpsertCounts(1, 0, 2)
    assert asset_named(db_session, tenant, "web-01").migration_readiness == {
        "tech_debt": verdict}
    assert asset_named(db_session, tenant, "db-01").tech_debt_status == "supported"


# --- filters ------------------------------------------------------------------------------
@pytest.fixture
def fleet(db_session, tenant):
    upsert(db_session, tenant, SERVERS + [
        {"name": "legacy-01", "os_name": "Windows Server", "environment": "dev",
         "asset_type": "server", "business_criticality": "low"},
        {"name": "app-7", "hostname": "app7.branch.example.org", "ip_address": "192.168.4.20",
         "environment": "test", "asset_type": "server"},
    ])
    account, engagement = tenant
    db_session.execute(Asset.__table__.update().where(Asset.asset_key == "legacy-01").values(
        migration_readiness={"tech_debt": {"status": "unsupported", "score": 90}},
        sixr_recommendation="retire"))
    db_session.execute(Asset.__table__.update().where(Asset.asset_key == "db-01").values(
        migration_readiness={"tech_debt": {"status": "soon_unsupported", "score": 40}}))
    return tenant


def names(db_session, tenant, f: AssetFilter, sort: str = "name") -> list[str]:
    account, engagement = tenant
    page = inventory.asset_page(db_session, account.id, engagement.id, f, sort, limit=100)
    return [a.asset_key for a in page.rows]


@pytest.mark.parametrize("f, expected", [
    (AssetFilter(), ["app-7", "db-01", "legacy-01", "web-01", "web-02"]),
    (AssetFilter(environment="production"), ["db-01", "web-01", "web-02"]),
    (AssetFilter(os_name="Windows Server"), ["db-01", "legacy-01"]),
    (AssetFilter(asset_type="database"), ["db-01"]),
    (AssetFilter(application="Shop"), ["web-01", "web-02"]),
    (AssetFilter(criticality="high"), ["db-01"]),
    (AssetFilter(tech_debt="flagged"), ["db-01", "legacy-01"]),
    (AssetFilter(tech_debt="unsupported"), ["legacy-01"]),
    (AssetFilter(sixr="retire"), ["legacy-01"]),
    (AssetFilter(environment="production", os_name="Ubuntu"), ["web-01", "web-02"]),
    (AssetFilter(q="web"), ["web-01", "web-02"]),      # name prefix
    (AssetFilter(q="  WEB-0 "), ["web-01", "web-02"]),  # case and spacing as in names
    (AssetFilter(q="WEB-01"), ["web-01"]),
    (AssetFilter(q="app7.branch"), ["app-7"]),        # hostname prefix
    (AssetFilter(q="10.0.0"), ["web-01", "web-02"]),   # IP prefix
    (AssetFilter(q="192.168.4.20"), ["app-7"]),
    (AssetFilter(q="nothing-like-this"), []),
    (AssetFilter(q="'%_\\"), []),                    # LIKE wildcards mean nothing here
    (AssetFilter(q="   "), ["app-7", "db-01", "legacy-01", "web-01", "web-02"]),
])
def test_filters(db_session, fleet, f, expected):
    assert names(db_session, fleet, f) == expected


def test_filter_choices_come_from_the_engagement(db_session, fleet):
    account, engagement = fleet
    choices = inventory.filter_choices(db_session, account.id, engagement.id)
    assert choices["environment"] == ["dev", "production", "test"]
    assert choices["os_name"] == ["Ubuntu", "Windows Server"]
    assert choices["asset_type"] == ["database", "server"]
    assert choices["application"] == ["Shop"]
    assert "retire" in choices["sixr"] and "flagged" in choices["tech_debt"]


# --- keyset pagination --------------------------------------------------------------------
@pytest.fixture
def crowd(db_session, tenant):
    """23 assets whose sort values repeat (ties) and are sometimes unknown (NULL)."""
    records = []
    for i in range(23):
        record = {"name": f"node-{i:02d}", "environment": ["dev", "prod", None][i % 3],
                  "os_name": ["RHEL", "Ubuntu"][i % 2] if i % 5 else None,
                  "application": f"app-{i % 4}", "cpu_cores": [2, 4, None, 8][i % 4],
                  "memory_gb": [4, 8.5, 8.5, None, 16][i % 5],
                  "business_criticality": ["low", "high", None][i % 3]}
        records.append({k: v for k, v in record.items() if v is not None})
    upsert(db_session, tenant, records)
    return tenant


def full_order(db_session, tenant, ordering) -> list[uuid.UUID]:
    account, engagement = tenant
    return list(db_session.scalars(select(Asset.id).where(
        *inventory.filter_conditions(account.id, engagement.id, AssetFilter()))
        .order_by(*ordering.order_by())))


def walk(db_session, tenant, token: str, f: AssetFilter | None = None, limit=4):
    """Follow Next to the end, then Previous back to the start: pages as id lists."""
    account, engagement = tenant
    f = f or AssetFilter()
    pages, cursor = [], None
    while True:
        page = inventory.asset_page(db_session, account.id, engagement.id, f, token, cursor,
                                    limit)
        pages.append([a.id for a in page.rows])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    back, before = [pages[-1]], page.prev_cursor
    while before:
        page = inventory.asset_page(db_session, account.id, engagement.id, f, token,
                                    limit=limit, before=before)
        back.append([a.id for a in page.rows])
        before = page.prev_cursor
    return pages, back[::-1]


@pytest.mark.parametrize("token", [s + k for k in inventory.SORTS for s in ("", "-")])
def test_keyset_pages_are_disjoint_complete_and_walk_back(db_session, crowd, token):
    expected = full_order(db_session, crowd, inventory.parse_ordering(token))
    forward, backward = walk(db_session, crowd, token)
    flat = [asset_id for page in forward for asset_id in page]
    assert flat == expected and len(set(flat)) == 23  # every asset once, in order
    assert all(len(page) == 4 for page in forward[:-1])
    assert backward == forward  # Previous gives back exactly the same pages


def test_nulls_sort_last_ascending_and_first_descending(db_session, crowd):
    account, engagement = crowd
    up = inventory.asset_page(db_session, account.id, engagement.id, AssetFilter(), "cpu",
                              limit=100).rows
    down = inventory.asset_page(db_session, account.id, engagement.id, AssetFilter(), "-cpu",
                                limit=100).rows
    assert up[-1].cpu_cores is None and up[0].cpu_cores == 2
    assert down[0].cpu_cores is None and down[-1].cpu_cores == 2


def test_filtered_pages_follow_the_filter(db_session, crowd):
    forward, _ = walk(db_session, crowd, "-memory", AssetFilter(environment="prod"), limit=3)
    account, engagement = crowd
    prod = {a.id for a in db_session.scalars(select(Asset).where(Asset.environment == "prod",
                                                                 Asset.client_account_id
                                                                 == account.id))}
    assert {i for page in forward for i in page} == prod


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-3] + ("AAA" if t[-3:] != "AAA" else "BBB"),  # edited
    lambda t: t[:10],                                             # truncated
    lambda t: "not a cursor at all!",
    lambda t: "",
])
def test_a_tampered_cursor_is_refused(db_session, crowd, mangle):
    account, engagement = crowd
    page = inventory.asset_page(db_session, account.id, engagement.id, AssetFilter(), "cpu",
                                limit=4)
    with pytest.raises(InvalidCursor):
        inventory.decode_cursor(inventory.parse_ordering("cpu"), mangle(page.next_cursor))


def test_a_cursor_of_another_sort_is_refused(db_session, crowd):
    account, engagement = crowd
    page = inventory.asset_page(db_session, account.id, engagement.id, AssetFilter(), "cpu",
                                limit=4)
    for other in ("memory", "-cpu", "name"):
        with pytest.raises(InvalidCursor):
            inventory.asset_page(db_session, account.id, engagement.id, AssetFilter(), other,
                                 page.next_cursor)


def test_an_unknown_sort_is_a_domain_error():
    with pytest.raises(DomainError):
        inventory.parse_ordering("password")


# --- one asset ----------------------------------------------------------------------------
def asset_named(db_session, tenant, key: str) -> Asset:
    return next(a for a in assets_of(db_session, tenant) if a.asset_key == key)


def test_another_tenants_asset_is_not_found(db_session, tenant, people):
    upsert(db_session, tenant, SERVERS[:1])
    asset = asset_named(db_session, tenant, "web-01")
    stranger = people.account(name="Stranger")
    stranger_engagement = people.engagement(stranger)
    with pytest.raises(NotFound):
        inventory.asset_detail(db_session, stranger.id, stranger_engagement.id, asset.id)
    with pytest.raises(NotFound):
        inventory.asset_detail(db_session, tenant[0].id, tenant[1].id, uuid.uuid4())
    assert inventory.asset_detail(db_session, tenant[0].id, tenant[1].id, asset.id) is asset


def test_dependencies_up_and_down(db_session, tenant):
    upsert(db_session, tenant, SERVERS + [{"name": "batch", "depends_on": ["10.0.1.5",
                                                                           "mainframe"]}])
    db = asset_named(db_session, tenant, "db-01")
    web = asset_named(db_session, tenant, "web-01")
    [link] = inventory.depends_on(db_session, web)
    assert link.label == "db-01" and link.asset is db
    batch = asset_named(db_session, tenant, "batch")
    links = inventory.depends_on(db_session, batch)
    assert [(link.label, link.asset) for link in links] == [("10.0.1.5", None),
                                                           ("mainframe", None)]
    # Downstream by name and by IP address (how "batch" wrote it).
    assert [a.asset_key for a in inventory.depended_on_by(db_session, db)] == \
        ["batch", "web-01", "web-02"]


def test_a_resolved_asset_id_wins(db_session, tenant):
    upsert(db_session, tenant, SERVERS)
    db = asset_named(db_session, tenant, "db-01")
    web = asset_named(db_session, tenant, "web-01")
    web.dependencies = [{"target": "database", "asset_id": str(db.id), "port": 5432}]
    db_session.flush()
    [link] = inventory.depends_on(db_session, web)
    assert link.asset is db and link.details == {"port": 5432}
    assert web in inventory.depended_on_by(db_session, db)


def test_editing_applies_changes_and_checks_the_version(db_session, tenant):
    upsert(db_session, tenant, SERVERS)
    web = asset_named(db_session, tenant, "web-01")
    inventory.update_asset(db_session, web, 1, {
        "environment": "staging", "application": " Checkout ", "owner": "ops@example.com",
        "business_criticality": "critical", "tags": ["pci", "web"], "description": ""})
    db_session.expire(web)
    assert (web.environment, web.application, web.criticality_rank, web.lock_version) == \
        ("staging", "Checkout", 4, 2)
    assert web.specifications["tags"] == ["pci", "web"]
    assert web.specifications["os_name"] == "Ubuntu"  # untouched fields stay
    with pytest.raises(EditConflict):
        inventory.update_asset(db_session, web, 1, {"owner": "someone else"})
    with pytest.raises(DomainError):
        inventory.update_asset(db_session, web, 2, {"asset_name": "renamed"})


def test_history_lists_each_change_field_by_field(db_session, tenant):
    upsert(db_session, tenant, SERVERS)
    web = asset_named(db_session, tenant, "web-01")
    inventory.update_asset(db_session, web, 1, {"application": "Checkout"})
    history = inventory.asset_history(db_session, tenant[0].id, web)
    # (One test transaction: both entries have the same timestamp, so no order to check.)
    by_operation = {h.entry.operation: h for h in history}
    assert sorted(by_operation) == ["INSERT", "UPDATE"] and len(history) == 2
    changes = {c.field: (c.old, c.new) for c in by_operation["UPDATE"].changes}
    assert changes == {"specifications.application": ("Shop", "Checkout")}
    assert by_operation["INSERT"].changes == []


def test_upsert_bumps_the_version_so_an_open_edit_form_conflicts(db_session, tenant):
    upsert(db_session, tenant, SERVERS)
    web = asset_named(db_session, tenant, "web-01")
    upsert(db_session, tenant, [dict(SERVERS[0], cpu_cores=16)])
    web = inventory.asset_detail(db_session, tenant[0].id, tenant[1].id, web.id)
    with pytest.raises(EditConflict):
        inventory.update_asset(db_session, web, 1, {"owner": "late"})


# --- export -------------------------------------------------------------------------------
def test_export_rows_follow_the_filter_and_neutralise_formulas(db_session, tenant):
    upsert(db_session, tenant, SERVERS + [{"name": "evil", "environment": "production",
                                           "os_name": '=HYPERLINK("http://x","y")'}])
    account, engagement = tenant
    rows = list(inventory.export_rows(db_session, account.id, engagement.id,
                                      AssetFilter(environment="production"), "name"))
    assert [r[0] for r in rows] == ["db-01", "evil", "web-01", "web-02"]
    header = inventory.EXPORT_HEADER
    web = dict(zip(header, rows[2], strict=True))
    assert (web["hostname"], web["memory_gb"], web["depends_on"]) == \
        ("web-01.corp.example.com", 8, "db-01")
    written = list(csv.reader(io.StringIO("".join(inventory.csv_chunks(rows, batch=2)))))
    assert written[0] == list(header) and len(written) == 5  # header + rows, across chunks
    evil = dict(zip(header, written[2], strict=True))
    assert evil["os_name"] == "'" + '=HYPERLINK("http://x","y")' and evil["name"] == "evil"
