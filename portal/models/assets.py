"""The asset inventory a discovery flow fills."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import (Base, TenantScoped, Timestamps, json_array, json_object,
                                tenant_foreign_keys, uuid_pk)


class Asset(TenantScoped, Timestamps, Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("client_account_id", "id", name="assets_tenant_key"),
        ForeignKeyConstraint(["client_account_id", "discovered_from_import_id"],
                             ["data_imports.client_account_id", "data_imports.id"],
                             ondelete="SET NULL (discovered_from_import_id)"),
        ForeignKeyConstraint(["client_account_id", "discovery_flow_id"],
                             ["discovery_flows.client_account_id", "discovery_flows.flow_id"],
                             ondelete="SET NULL (discovery_flow_id)"),
        Index("idx_assets_client", "client_account_id"),
        Index("idx_assets_engagement", "engagement_id"),
        Index("idx_assets_type", "asset_type"),
        Index("idx_assets_environment", "environment"),
        Index("idx_assets_sixr", "sixr_recommendation"),
        Index("idx_assets_discovery", "discovery_flow_id"),
        Index("idx_assets_tenant_type", "client_account_id", "engagement_id", "asset_type"),
        Index("idx_assets_specifications_gin", "specifications", postgresql_using="gin"),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    asset_name: Mapped[str] = mapped_column(String(255))
    asset_type: Mapped[str | None] = mapped_column(String(100))
    environment: Mapped[str | None] = mapped_column(String(100))
    specifications: Mapped[dict[str, Any] | None] = json_object()
    dependencies: Mapped[list[Any] | None] = json_array()
    configurations: Mapped[dict[str, Any] | None] = json_object()
    migration_readiness: Mapped[dict[str, Any] | None] = json_object()
    sixr_recommendation: Mapped[str | None] = mapped_column(String(50))
    complexity_score: Mapped[int | None] = mapped_column(Integer)
    risk_score: Mapped[int | None] = mapped_column(Integer)
    discovered_from_import_id: Mapped[uuid.UUID | None] = mapped_column()
    discovery_flow_id: Mapped[uuid.UUID | None] = mapped_column()
    last_analyzed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
