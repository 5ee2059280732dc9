"""6R analysis results, one row per asset analysis."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (CheckConstraint, DateTime, Float, ForeignKeyConstraint, Index, String,
                        Text, Uuid, func, text)
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import (Base, TenantScoped, json_array, json_object,
                                tenant_foreign_keys, uuid_pk)

STRATEGIES = ("rehost", "replatform", "refactor", "rearchitect", "rebuild", "repurchase",
              "retire", "retain")


class SixrAnalysis(TenantScoped, Base):
    __tablename__ = "sixr_analysis"
    __table_args__ = (
        CheckConstraint("confidence_score >= 0.0 AND confidence_score <= 1.0",
                        name="confidence_score"),
        CheckConstraint(f"primary_recommendation IN {STRATEGIES!r}", name="sixr_strategy"),
        ForeignKeyConstraint(["client_account_id", "asset_id"],
                             ["assets.client_account_id", "assets.id"], ondelete="CASCADE"),
        Index("idx_sixr_analysis_asset", "asset_id"),
        Index("idx_sixr_analysis_recommendation", "primary_recommendation"),
        Index("idx_sixr_analysis_confidence", "confidence_score"),
        Index("idx_sixr_analysis_tenant", "client_account_id", "engagement_id"),
        # One engine analysis per asset (portal.assessment.store upserts on it); the
        # consultants' overrides are the other rows.
        Index("idx_sixr_analysis_engine_asset", "client_account_id", "asset_id", unique=True,
              postgresql_where=text("analyzed_by = 'engine'")),
        *tenant_foreign_keys(),
        {"postgresql_with": {"fillfactor": 85}},  # room for in-place (HOT) re-assessment
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    primary_recommendation: Mapped[str] = mapped_column(String(50))
    confidence_score: Mapped[float] = mapped_column(Float)
    alternative_options: Mapped[list[Any] | None] = json_array()
    analysis_criteria: Mapped[dict[str, Any] | None] = json_object()
    cost_estimation: Mapped[dict[str, Any] | None] = json_object()
    effort_estimation: Mapped[dict[str, Any] | None] = json_object()
    risk_factors: Mapped[list[Any] | None] = json_array()
    rationale: Mapped[str | None] = mapped_column(Text)
    business_impact: Mapped[dict[str, Any] | None] = json_object()
    technical_considerations: Mapped[dict[str, Any] | None] = json_object()
    analyzed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         server_default=func.now())
    analyzed_by: Mapped[str | None] = mapped_column(String(255))
