"""Running an assessment unattended, start to end, as `portal assess` and the demo do (no
Flask in here)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from portal.assessment import flow as _registers_assessment  # noqa: F401
from portal.db import TenantContext, session_scope
from portal.flows import engine
from portal.flows.reading import flow_in


def assess(factory: sessionmaker[Session], tenant: TenantContext, *,
           scope: Mapping[str, Any] | None = None, assessment_type: str = "comprehensive",
           by: str = "cli", name: str = "Assessment") -> dict:
    """Start an assessment of the tenant's engagement, run it here to its end, and report
    {"flow_id", "status", "assets_assessed", "distribution", "mean_confidence"}."""
    account_id, engagement_id = tenant.client_id, tenant.engagement_id
    with session_scope(factory, tenant) as session:
        master = engine.start_flow(session, account_id, engagement_id, by, "assessment", name,
                                   {"scope": dict(scope or {"kind": "all"}),
                                    "assessment_type": assessment_type},
                                   {"assessment_type": assessment_type})
        flow_id = master.flow_id
    engine.run_flow(factory, account_id, flow_id)
    with session_scope(factory, tenant) as session:
        master, child = flow_in(session, account_id, engagement_id, flow_id)
        results = child.assessment_results or {}
        return {"flow_id": str(flow_id), "status": master.flow_status,
                "assets_assessed": results.get("assets_assessed", 0),
                "distribution": results.get("distribution", {}),
                "mean_confidence": results.get("mean_confidence"),
                **({"error": master.error_details} if master.flow_status == "failed" else {})}
