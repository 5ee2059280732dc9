"""What the portal's engines learn per client account, and a record of every task they run."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import (Base, Timestamps, created_at_column, json_array,
                                tenant_foreign_keys, uuid_pk)


class AgentMemory(Timestamps, Base):
    __tablename__ = "agent_memory"
    __table_args__ = (
        Index("idx_agent_memory_client", "client_account_id"),
        Index("idx_agent_memory_type", "agent_type", "memory_type"),
        Index("idx_agent_memory_confidence", "confidence_score"),
        # One memory per learned pattern and agent within an account (upserted).
        Index("idx_agent_memory_pattern", "client_account_id", "agent_type",
              text("(memory_content ->> 'pattern')"), unique=True),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_type: Mapped[str] = mapped_column(String(100))
    memory_type: Mapped[str | None] = mapped_column(String(50))
    memory_content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    confidence_score: Mapped[float | None] = mapped_column(Float, server_default=text("0.0"))
    usage_count: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    context_tags: Mapped[list[Any] | None] = json_array()
    related_flows: Mapped[list[Any] | None] = json_array()
    last_accessed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AgentTaskHistory(Base):
    __tablename__ = "agent_task_history"
    __table_args__ = (
        Index("idx_agent_tasks_client", "client_account_id"),
        Index("idx_agent_tasks_flow", "flow_id"),
        Index("idx_agent_tasks_agent", "agent_name"),
        Index("idx_agent_tasks_type", "task_type"),
        Index("idx_agent_tasks_started", "started_at"),
        *tenant_foreign_keys(),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    flow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_name: Mapped[str] = mapped_column(String(255))
    task_type: Mapped[str] = mapped_column(String(100))
    task_description: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    tokens_used: Mapped[int | None] = mapped_column(Integer)
    success_rate: Mapped[float | None] = mapped_column(Float)
    task_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime | None] = created_at_column()
