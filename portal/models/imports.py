"""Uploaded inventory files and what parsing them found."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        text)
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
