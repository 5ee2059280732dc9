"""Running a discovery flow unattended, start to end, as `portal import` does (no Flask)."""
from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from portal.db import session_scope
from portal.discovery import flow as _registers_discovery  # noqa: F401
from portal.discovery.imports import Uploaded, create_import
from portal.discovery.parsing import open_inventory
from portal.discovery.uploads import storage_path
from portal.flows import engine
from portal.flows.unattended import tenant_by_slugs
from portal.models import DataImport

def import_and_discover(factory: sessionmaker[Session], instance_path: Path, file: Path,
                        account_slug: str, engagement_slug: str,
                        connections: Path | None = None) -> dict:
    """Stage FILE, run the discovery flow to its end in this process, and report
    {"flow_id", "status", "rows", "valid_rows", "invalid_rows", "assets_created",
    "assets_updated", "mapping", "data_quality_score"}."""
    tenant = tenant_by_slugs(factory, account_slug, engagement_slug)
    account_id, engagement_id = tenant.client_id, tenant.engagement_id
    stored = storage_path(instance_path, account_id, file.name)
    shutil.copyfile(file, stored)
    with session_scope(factory, tenant) as session:
        data_import = create_import(session, account_id, engagement_id, None,
                                    Uploaded(stored, file.name, stored.stat().st_size),
                                    open_inventory(stored, file.name))
        config = {"import_id": str(data_import.id), "unattended": True}
        if connections:
            config["connections_path"] = str(connections.resolve())
        master = engine.start_flow(session, account_id, engagement_id, "cli", "discovery",
                                   f"Import of {file.name}"[:255], config)
        flow_id, import_id = master.flow_id, data_import.id
    status = engine.run_flow(factory, account_id, flow_id)
    with session_scope(factory, tenant) as session:
        master, child, _ = engine._load(session, account_id, flow_id)
        data_import = session.get(DataImport, import_id)
        inventory = (master.checkpoint_data or {}).get("asset_inventory", {})
        return {"flow_id": str(flow_id), "status": master.flow_status,
                "rows": data_import.total_rows, "valid_rows": data_import.valid_rows,
                "invalid_rows": data_import.invalid_rows,
                "assets_created": inventory.get("created", 0),
                "assets_updated": inventory.get("updated", 0),
                "mapping": {m["source"]: m["target"]
                            for m in (data_import.processed_data or {}).get("mapping", [])},
                "data_quality_score": (child.data_quality_metrics or {}).get("score"),
                **({"error": master.error_details} if status == "failed" else {})}
