"""Flow orchestration: one master row per flow (lifecycle) and one child row per workflow
type (its own data).  The seed's `crewai_flow_state_extensions` is `master_flows` here."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (CheckConstraint, DateTime, Float, ForeignKey, ForeignKeyConstraint,
                        Index, Integer, String, UniqueConstraint, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import (Base, TenantScoped, Timestamps, json_array, json_object,
                                tenant_foreign_keys, uuid_pk)

FLOW_STATUSES = ("initialized", "running", "paused", "completed", "failed", "cancelled")
CHILD_STATUSES = ("active", "paused", "completed", "failed", "cancelled")


def progress_column() -> Any:
    return mapped_column(Integer, server_default=text("0"))


def progress_check() -> CheckConstraint:
    return CheckConstraint("progress_percentage >= 0 AND progress_percentage <= 100",
                           name="progress_percentage")


def master_flow_key() -> ForeignKeyConstraint:
    """Child flow → master flow, through the tenant too."""
    return ForeignKeyConstraint(["client_account_id", "master_flow_id"],
                                ["master_flows.client_account_id", "master_flows.flow_id"],
                                ondelete="CASCADE")


class MasterFlow(TenantScoped, Timestamps, Base):
    __tablename__ = "master_flows"
    __table_args__ = (
        UniqueConstraint("flow_id", name="flow_id_unique"),
        UniqueConstraint("client_account_id", "flow_id", name="master_flows_tenant_key"),
        CheckConstraint(f"flow_status IN {FLOW_STATUSES!r}", name="master_flow_status"),
        progress_check(),
        Index("idx_flow_extensions_client", "client_account_id"),
        Index("idx_flow_extensions_engagement", "engagement_id"),
        Index("idx_flow_extensions_type", "flow_type"),
        Index("idx_flow_extensions_status", "flow_status"),
        Index("idx_flow_config_gin", "flow_config", postgresql_using="gin"),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[str] = mapped_column(String)
    flow_type: Mapped[str] = mapped_column(String(50))
    flow_name: Mapped[str] = mapped_column(String(255))
    flow_version: Mapped[str | None] = mapped_column(String(20), server_default=text("'1.0'"))
    flow_status: Mapped[str | None] = mapped_column(
        String(50), server_default=text("'initialized'"))
    current_phase: Mapped[str | None] = mapped_column(String(100))
    progress_percentage: Mapped[int | None] = progress_column()
    flow_config: Mapped[dict[str, Any] | None] = json_object()
    agent_config: Mapped[dict[str, Any] | None] = json_object()
    performance_metrics: Mapped[dict[str, Any] | None] = json_object()
    execution_stats: Mapped[dict[str, Any] | None] = json_object()
    error_details: Mapped[dict[str, Any] | None] = json_object()
    flow_persistence_data: Mapped[dict[str, Any] | None] = json_object()
    checkpoint_data: Mapped[dict[str, Any] | None] = json_object()
    phase_transitions: Mapped[list[Any] | None] = json_array()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DiscoveryFlow(TenantScoped, Timestamps, Base):
    __tablename__ = "discovery_flows"
    __table_args__ = (
        UniqueConstraint("flow_id", name="discovery_flows_flow_id_unique"),
        UniqueConstraint("client_account_id", "flow_id", name="discovery_flows_tenant_key"),
        CheckConstraint(f"status IN {CHILD_STATUSES!r}", name="discovery_status"),
        progress_check(),
        master_flow_key(),
        ForeignKeyConstraint(["client_account_id", "data_import_id"],
                             ["data_imports.client_account_id", "data_imports.id"]),
        Index("idx_discovery_flows_master", "master_flow_id"),
        Index("idx_discovery_flows_client", "client_account_id"),
        Index("idx_discovery_flows_engagement", "engagement_id"),
        Index("idx_discovery_flows_status", "status"),
        Index("idx_discovery_flows_phase", "current_phase"),
        Index("idx_discovery_flows_tenant_status", "client_account_id", "engagement_id",
              "status"),
        Index("idx_active_discovery_flows", "client_account_id", "engagement_id",
              postgresql_where=text("status = 'active'")),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    master_flow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[str] = mapped_column(String)
    data_import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    flow_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(50), server_default=text("'active'"))
    current_phase: Mapped[str | None] = mapped_column(
        String(100), server_default=text("'data_import'"))
    progress_percentage: Mapped[int | None] = progress_column()
    data_import_completed: Mapped[bool | None] = mapped_column(server_default=text("false"))
    field_mapping_completed: Mapped[bool | None] = mapped_column(server_default=text("false"))
    data_cleansing_completed: Mapped[bool | None] = mapped_column(server_default=text("false"))
    asset_inventory_completed: Mapped[bool | None] = mapped_column(server_default=text("false"))
    dependency_analysis_completed: Mapped[bool | None] = mapped_column(
        server_default=text("false"))
    tech_debt_completed: Mapped[bool | None] = mapped_column(server_default=text("false"))
    analysis_results: Mapped[dict[str, Any] | None] = json_object()
    field_mappings: Mapped[dict[str, Any] | None] = json_object()
    data_quality_metrics: Mapped[dict[str, Any] | None] = json_object()
    crewai_state_data: Mapped[dict[str, Any] | None] = json_object()
    last_phase_update: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CollectionFlow(TenantScoped, Timestamps, Base):
    __tablename__ = "collection_flows"
    __table_args__ = (
        Index("idx_collection_flows_client", "client_account_id"),
        Index("idx_collection_flows_engagement", "engagement_id"),
        Index("idx_collection_flows_status", "status"),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    flow_name: Mapped[str] = mapped_column(String(255))
    flow_type: Mapped[str | None] = mapped_column(String(50), server_default=text("'adaptive'"))
    status: Mapped[str | None] = mapped_column(String(50), server_default=text("'active'"))
    target_application_count: Mapped[int | None] = mapped_column(Integer)
    collection_method: Mapped[str | None] = mapped_column(String(50))
    applications_identified: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    applications_completed: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    data_quality_score: Mapped[float | None] = mapped_column(Float, server_default=text("0.0"))
    application_catalog: Mapped[list[Any] | None] = json_array()
    collection_metadata: Mapped[dict[str, Any] | None] = json_object()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AssessmentFlow(TenantScoped, Timestamps, Base):
    __tablename__ = "assessment_flows"
    __table_args__ = (
        UniqueConstraint("flow_id", name="assessment_flows_flow_id_key"),
        master_flow_key(),
        Index("idx_assessment_flows_client", "client_account_id"),
        Index("idx_assessment_flows_engagement", "engagement_id"),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    master_flow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[str] = mapped_column(String)
    flow_name: Mapped[str] = mapped_column(String(255))
    assessment_type: Mapped[str | None] = mapped_column(
        String(50), server_default=text("'comprehensive'"))
    status: Mapped[str | None] = mapped_column(String(50), server_default=text("'active'"))
    asset_scope: Mapped[dict[str, Any] | None] = json_object()
    assessment_criteria: Mapped[dict[str, Any] | None] = json_object()
    assessment_results: Mapped[dict[str, Any] | None] = json_object()
    recommendations: Mapped[dict[str, Any] | None] = json_object()
    risk_assessment: Mapped[dict[str, Any] | None] = json_object()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = ["MasterFlow", "DiscoveryFlow", "CollectionFlow", "AssessmentFlow", "FLOW_STATUSES",
           "CHILD_STATUSES"]
