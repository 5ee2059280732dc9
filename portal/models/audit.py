"""The audit log (written only by database triggers) and login attempts (for throttling)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, String, Uuid, func, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, uuid_pk


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        # Keyset pagination of one tenant's log, newest first, stays fast at millions of rows.
        Index("idx_audit_log_tenant_time", "client_account_id", text("timestamp DESC"),
              text("id DESC")),
        Index("idx_audit_log_record", "table_name", "record_id"),
        Index("idx_audit_log_time", text("timestamp DESC"), text("id DESC")),
        # Filters on one user or one table keep the keyset order inside the tenant.
        Index("idx_audit_log_tenant_user_time", "client_account_id", "user_id",
              text("timestamp DESC"), text("id DESC")),
        Index("idx_audit_log_tenant_table_time", "client_account_id", "table_name",
              text("timestamp DESC"), text("id DESC")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    table_name: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    operation: Mapped[str] = mapped_column(String(10))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    client_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                       server_default=func.now())


class LoginAttempt(Base):
    """One row per login attempt; recent failures per address or per client IP throttle.
    Kept in PostgreSQL so every web worker process sees the same counts."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("idx_login_attempts_email", "email_hash", "attempted_at"),
        Index("idx_login_attempts_ip", "remote_addr", "attempted_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email_hash: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(INET)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                   server_default=func.now())
