"""The seed's `engagement_summary`, read only through the tenant-filtered view."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class EngagementSummary:
    engagement_id: uuid.UUID
    client_account_id: uuid.UUID
    engagement_name: str
    discovery_flows_count: int
    assets_count: int
    avg_progress: Decimal | None
    completed_flows: int


def engagement_summaries(session: Session) -> list[EngagementSummary]:
    """The current tenant's rows of engagement_summary (as of its last refresh)."""
    rows = session.execute(text(
        "SELECT engagement_id, client_account_id, engagement_name, discovery_flows_count,"
        " assets_count, avg_progress, completed_flows FROM engagement_summary_current"
        " ORDER BY engagement_name"))
    return [EngagementSummary(*row) for row in rows]


def refresh_engagement_summary(session: Session) -> None:
    """Recompute the summary for every tenant, without blocking readers."""
    session.execute(text("SELECT refresh_engagement_summary()"))
