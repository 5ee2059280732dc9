"""The discovery flow end to end on the engine (in-process, committed transactions, as
portal_app): import → mapping → cleansing → inventory → dependencies → tech debt."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import crypto
from portal.db import session_scope
from portal.discovery import flow as discovery  # noqa: F401  (registers the flow type)
from portal.discovery.imports import Uploaded, create_import
from portal.discovery.parsing import open_inventory
from portal.flows import engine
from portal.models import Asset, CleansedRecord, ClientAccount

INVENTORY = (
    "Server Name,IP Address,Operating System,CPU Cores,RAM (MB),Environment,Depends On,Rack\n"
    "web-01,10.0.0.1,Windows Server 2008 R2,4,8192,PROD,db-01,A1\n"
    "web-02,10.0.0.2,Ubuntu 22.04,4,8192,prd,db-01,A2\n"
    " WEB-01 ,10.0.0.1,Windows Server 2008 R2,4,8192,Production,db-01,A1\n"
    "db-01,10.0.0.9,Red Hat Enterprise Linux 9,8,32768,production,,B1\n"
)


def staged_import(flows, tenant, tmp_path: Path, content: str = INVENTORY):
    path = tmp_path / "inventory.csv"
    path.write_text(content)
    with session_scope(flows.sessions, tenant.context) as s:
        found = create_import(s, tenant.account_id, tenant.engagement_id, None,
                              Uploaded(path, "inventory.csv", path.stat().st_size),
                              open_inventory(path, "inventory.csv"))
        return found.id


def start(flows, tenant, import_id):
    with session_scope(flows.sessions, tenant.context) as s:
        master = engine.start_flow(s, tenant.account_id, tenant.engagement_id, tenant.user_id,
                                   "discovery", "Discovery", {"import_id": str(import_id)}, {})
    return master.flow_id


def assets(flows, tenant) -> dict[str, Asset]:
    with session_scope(flows.sessions, tenant.context) as s:
        return {a.asset_name: a for a in s.scalars(select(Asset).where(
            Asset.client_account_id == tenant.account_id))}


def test_confident_import_runs_to_a_deduplicated_inventory(flows, tenant, tmp_path, settings):
    crypto.configure(settings.encryption_key, settings.lookup_key)
    flow_id = start(flows, tenant, staged_import(flows, tenant, tmp_path))
    assert flows.run(tenant, flow_id)[-1] == "completed"
    master, child = flows.flow(tenant, flow_id)
    assert master.flow_status == "completed" and child.status == "completed"
    assert child.tech_debt_completed and child.asset_inventory_completed
    found = assets(flows, tenant)
    assert sorted(n.strip().lower() for n in found) == ["db-01", "web-01", "web-02"]
    web = next(a for n, a in found.items() if n.strip().lower() == "web-01")
    assert web.environment == "production"
    assert web.migration_readiness["tech_debt"]["status"] == "unsupported"
    assert [d["key"] for d in web.dependencies] == ["db-01"]
    assert child.data_quality_metrics["duplicates_merged"] == 1
    deps = child.analysis_results["dependencies"]["stats"]
    assert deps["edges"] == 2 and deps["groups"] == 1

    # Re-importing an updated export updates in place, never duplicates.
    updated = INVENTORY.replace("web-02,10.0.0.2,Ubuntu 22.04,4,8192",
                                "web-02,10.0.0.2,Ubuntu 22.04,8,16384")
    again = start(flows, tenant, staged_import(flows, tenant, tmp_path, updated))
    assert flows.run(tenant, again)[-1] == "completed"
    after = assets(flows, tenant)
    assert len(after) == 3
    assert after["web-02"].specifications["cpu_cores"] == 8


def test_manual_automation_pauses_for_review(flows, tenant, tmp_path, settings):
    crypto.configure(settings.encryption_key, settings.lookup_key)
    with session_scope(flows.sessions, tenant.context.with_(platform_admin=True)) as s:
        account = s.get(ClientAccount, tenant.account_id)
        account.agent_preferences = dict(account.agent_preferences) | {
            "automation_level": "manual"}
    flow_id = start(flows, tenant, staged_import(flows, tenant, tmp_path))
    assert flows.run(tenant, flow_id)[-1] == "paused"
    master, _ = flows.flow(tenant, flow_id)
    assert master.current_phase == "field_mapping" or master.flow_status == "paused"
    with session_scope(flows.sessions, tenant.context) as s:
        assert s.scalar(select(func.count()).select_from(Asset).where(
            Asset.client_account_id == tenant.account_id)) == 0


def inventory_state(flows, tenant) -> list[tuple]:
    """The assets a discovery flow leaves, without ids and times."""
    return sorted((a.asset_key, a.asset_name, a.environment, a.specifications, a.dependencies,
                   a.migration_readiness, a.lock_version) for a in assets(flows, tenant).values())


def cleansed_rows(flows, tenant, flow_id) -> int:
    with session_scope(flows.sessions, tenant.context) as s:
        return s.scalar(select(func.count()).select_from(CleansedRecord).where(
            CleansedRecord.client_account_id == tenant.account_id,
            CleansedRecord.flow_id == flow_id))


@pytest.mark.parametrize("phase, writer", [("asset_inventory", "upsert_assets"),
                                           ("dependency_analysis", "store_dependencies"),
                                           ("tech_debt", "store_tech_debt")])
def test_a_phase_that_fails_after_writing_reruns_to_the_same_state(flows, tmp_path, settings,
                                                                   monkeypatch, phase, writer):
    """The cleansing phase writes the cleansed records once; a later phase that dies after
    its writes rolls back, and its retry streams the same records again: the outcome is
    that of an uninterrupted run, and the records are gone once the flow completes."""
    crypto.configure(settings.encryption_key, settings.lookup_key)
    calm, stormy = flows.tenant(), flows.tenant()
    assert flows.run(calm, start(flows, calm, staged_import(flows, calm, tmp_path)))[-1] \
        == "completed"

    real = getattr(discovery, writer)

    def write_then_crash(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("worker died")

    flow_id = start(flows, stormy, staged_import(flows, stormy, tmp_path))
    monkeypatch.setattr(discovery, writer, write_then_crash)
    assert flows.run(stormy, flow_id)[-1] == "failed"
    master, _ = flows.flow(stormy, flow_id)
    assert master.current_phase == phase
    assert cleansed_rows(flows, stormy, flow_id) == 3  # four rows, one duplicate merged
    monkeypatch.setattr(discovery, writer, real)
    flows.act("retry", stormy, flow_id)
    assert flows.run(stormy, flow_id)[-1] == "completed"
    assert inventory_state(flows, stormy) == inventory_state(flows, calm)
    assert cleansed_rows(flows, stormy, flow_id) == 0
