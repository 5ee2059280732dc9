"""The asset inventory a discovery flow fills.

An asset is identified within its engagement by `asset_key`, its normalised name
(`portal.discovery.fields.normalise_name`), so re-importing an export updates rather than
duplicates.  Canonical fields other than the name, type and environment live in
`specifications` (with the unmapped source columns under "source_columns"); the fields the
list page filters and sorts by are mirrored from the JSONB into generated columns, which
PostgreSQL keeps in step with whatever writes the JSONB (imports, edits, the tech-debt
phase), and each sort has an index leading with the tenant and the engagement.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (Computed, DateTime, Double, ForeignKeyConstraint, Index, Integer, String,
                        Text, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import (Base, TenantScoped, Timestamps, json_array, json_object,
                                tenant_foreign_keys, uuid_pk)


def _number(document: str, path: str) -> str:
    """A JSON number at `path` of a JSONB column as double precision, NULL for anything
    else (a hand-edited "n/a" must not make every later write of the row fail).  Double
    precision rather than numeric: its comparison operators are LEAKPROOF, so under
    row-level security PostgreSQL may use them as index conditions (numeric's are not)."""
    return (f"CASE WHEN jsonb_typeof({document} #> '{{{path}}}') = 'number' "
            f"THEN ({document} #>> '{{{path}}}')::double precision ELSE NULL END")


# Written the way PostgreSQL prints them back, so `alembic check` sees no difference.  Text
# is cut short (left) so no imported value can outgrow an index entry and fail an import.
GENERATED = {
    "os_name": "left(specifications ->> 'os_name', 200)",
    "application": "left(specifications ->> 'application', 200)",
    "criticality_rank": ("CASE lower(specifications ->> 'business_criticality') "
                         "WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 "
                         "WHEN 'low' THEN 1 ELSE NULL END"),
    "cpu_cores": ("CASE WHEN jsonb_typeof(specifications -> 'cpu_cores') = 'number' "
                  "THEN round((specifications ->> 'cpu_cores')::numeric)::integer "
                  "ELSE NULL END"),
    "memory_gb": _number("specifications", "memory_gb"),
    "tech_debt_status": "left(migration_readiness #>> '{tech_debt,status}', 50)",
    "tech_debt_score": _number("migration_readiness", "tech_debt,score"),
    # Search keys (prefix search by name, hostname or address), in the "C" collation so a
    # prefix is one contiguous range of the index.
    "host_key": "lower(left(specifications ->> 'hostname', 255))",
    "ip_address": "left(specifications ->> 'ip_address', 100)",
}

# Columns the list page sorts by: each gets (tenant, engagement, column, id), so any page of
# any sort is one index range scan (keyset pagination) whatever its depth.  The sort by
# name uses the natural key.
SORT_COLUMNS = ("environment", "os_name", "application", "criticality_rank", "cpu_cores",
                "memory_gb", "tech_debt_score", "updated_at")
SEARCH_COLUMNS = ("host_key", "ip_address")  # besides asset_key (the natural key)


def _generated(sql_type, name: str) -> Any:
    return mapped_column(sql_type, Computed(GENERATED[name], persisted=True))


class Asset(TenantScoped, Timestamps, Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("client_account_id", "id", name="assets_tenant_key"),
        # The natural key: what upserts conflict on, and the index of the sort by name.
        UniqueConstraint("client_account_id", "engagement_id", "asset_key",
                         name="assets_natural_key"),
        ForeignKeyConstraint(["client_account_id", "discovered_from_import_id"],
                             ["data_imports.client_account_id", "data_imports.id"],
                             ondelete="SET NULL (discovered_from_import_id)"),
        ForeignKeyConstraint(["client_account_id", "discovery_flow_id"],
                             ["discovery_flows.client_account_id", "discovery_flows.flow_id"],
                             ondelete="SET NULL (discovery_flow_id)"),
        # The seed's single-column indexes on client, engagement, type, environment and 6R
        # are gone: no tenant query starts from them, and each cost every import a write.
        Index("idx_assets_discovery", "discovery_flow_id"),
        Index("idx_assets_tenant_type", "client_account_id", "engagement_id", "asset_type"),
        Index("idx_assets_specifications_gin", "specifications", postgresql_using="gin"),
        *(Index(f"idx_assets_sort_{column}", "client_account_id", "engagement_id", column, "id")
          for column in SORT_COLUMNS),
        *(Index(f"idx_assets_search_{column}", "client_account_id", "engagement_id", column)
          for column in SEARCH_COLUMNS),
        # "Who depends on this asset": containment lookups into every asset's list.
        Index("idx_assets_dependencies_gin", "dependencies", postgresql_using="gin",
              postgresql_ops={"dependencies": "jsonb_path_ops"}),
        *tenant_foreign_keys(),
        # Room on each page for heap-only updates: an assessment changes no indexed column
        # (rows are wide, so half of each page; see migration b7d41c0e9a62).
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    asset_name: Mapped[str] = mapped_column(String(255))
    asset_key: Mapped[str] = mapped_column(Text(collation="C"))
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
    lock_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # Generated from the JSONB columns: read them, never write them.
    os_name: Mapped[str | None] = _generated(Text, "os_name")
    application: Mapped[str | None] = _generated(Text, "application")
    criticality_rank: Mapped[int | None] = _generated(Integer, "criticality_rank")
    cpu_cores: Mapped[int | None] = _generated(Integer, "cpu_cores")
    memory_gb: Mapped[float | None] = _generated(Double, "memory_gb")
    tech_debt_status: Mapped[str | None] = _generated(Text, "tech_debt_status")
    tech_debt_score: Mapped[float | None] = _generated(Double, "tech_debt_score")
    host_key: Mapped[str | None] = _generated(Text(collation="C"), "host_key")
    ip_address: Mapped[str | None] = _generated(Text(collation="C"), "ip_address")

    __mapper_args__ = {"version_id_col": lock_version}  # optimistic locking of edits
