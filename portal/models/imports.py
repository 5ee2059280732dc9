"""Uploaded inventory files and what parsing them found."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        Uuid, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import (Base, TenantScoped, Timestamps, json_array, tenant_foreign_keys,
                                uuid_pk)


class DataImport(TenantScoped, Timestamps, Base):
    __tablename__ = "data_imports"
    __table_args__ = (
        UniqueConstraint("client_account_id", "id", name="data_imports_tenant_key"),
        Index("idx_data_imports_client", "client_account_id"),
        Index("idx_data_imports_engagement", "engagement_id"),
        Index("idx_data_imports_status", "upload_status"),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    filename: Mapped[str] = mapped_column(String(500))
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    file_type: Mapped[str | None] = mapped_column(String(50))
    upload_status: Mapped[str | None] = mapped_column(String(50), server_default=text("'pending'"))
    total_rows: Mapped[int | None] = mapped_column(Integer)
    valid_rows: Mapped[int | None] = mapped_column(Integer)
    invalid_rows: Mapped[int | None] = mapped_column(Integer)
    columns_detected: Mapped[list[Any] | None] = json_array()
    file_path: Mapped[str | None] = mapped_column(Text)
    processed_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    validation_errors: Mapped[list[Any] | None] = json_array()
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


class ImportRow(Base):
    """One raw row of an uploaded file, kept so an import can be re-mapped without
    re-uploading.  Keyed naturally by (tenant, import, row number); the import names the
    engagement.  No foreign key: its per-row check was half the cost of staging a million
    rows (measured), so rows are written only by staging, right after their import, and a
    trigger deletes them with it.  `errors` holds the
    row's validation problems under the import's current mapping (NULL when valid) and
    `name_key` its normalised asset name (whitespace and case folded) for de-duplication."""

    __tablename__ = "import_rows"
    __table_args__ = (
        Index("idx_import_rows_invalid", "client_account_id", "data_import_id", "row_number",
              postgresql_where=text("errors IS NOT NULL")),
    )

    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    data_import_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    errors: Mapped[list[Any] | None] = mapped_column(JSONB)
    name_key: Mapped[str | None] = mapped_column(Text)
