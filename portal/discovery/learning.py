"""What the field mapper learns per client account, kept in `agent_memory`, and the record
of each mapping run in `agent_task_history` (no Flask in here)."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from portal.discovery.field_mapping import ColumnMapping, LearnedMapping, normalise_header
from portal.models import AgentMemory, AgentTaskHistory

AGENT_TYPE = "field_mapping"
AGENT_NAME = "field_mapper"

_REMEMBER = text("""
    INSERT INTO agent_memory (client_account_id, engagement_id, agent_type, memory_type,
                              memory_content, confidence_score, usage_count, last_accessed,
                              context_tags)
    VALUES (:client, :engagement, :agent_type, :memory_type, CAST(:content AS jsonb),
            :confidence, 1, now(), CAST(:tags AS jsonb))
    ON CONFLICT (client_account_id, agent_type, (memory_content ->> 'pattern')) DO UPDATE
    SET memory_type = EXCLUDED.memory_type, memory_content = EXCLUDED.memory_content,
        confidence_score = GREATEST(EXCLUDED.confidence_score,
            CASE WHEN agent_memory.memory_content = EXCLUDED.memory_content
                 THEN agent_memory.confidence_score ELSE 0 END),
        usage_count = agent_memory.usage_count + 1, last_accessed = now()
""")


def learned_mappings(session: Session, account_id: uuid.UUID) -> dict[str, LearnedMapping]:
    """Every header pattern the account has confirmed or corrected, by normalised header."""
    rows = session.scalars(select(AgentMemory).where(
        AgentMemory.client_account_id == account_id, AgentMemory.agent_type == AGENT_TYPE))
    return {m.memory_content["pattern"]: LearnedMapping(
        target=m.memory_content.get("target"), unit=m.memory_content.get("unit"),
        confidence=float(m.memory_content.get("confidence", m.confidence_score or 0.95)))
        for m in rows}


def remember(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID | None,
             mapping: ColumnMapping, *, corrected: bool) -> None:
    """Store a user's decision about one column: a correction (`feedback`) or a
    confirmation of the suggestion (`pattern`); either wins next time for this account."""
    pattern = normalise_header(mapping.source)
    content = {"pattern": pattern, "source": mapping.source, "target": mapping.target,
               "unit": mapping.unit, "confidence": 1.0 if corrected else
               max(mapping.confidence, 0.95)}
    session.execute(_REMEMBER, {
        "client": account_id, "engagement": engagement_id, "agent_type": AGENT_TYPE,
        "memory_type": "feedback" if corrected else "pattern",
        "content": json.dumps(content), "confidence": content["confidence"],
        "tags": json.dumps([mapping.target or "unmapped"])})


def mark_used(session: Session, account_id: uuid.UUID, mappings: Iterable[ColumnMapping]) -> None:
    """Count the learned patterns a suggestion relied on."""
    patterns = [normalise_header(m.source) for m in mappings if m.method == "learned"]
    if patterns:
        session.execute(update(AgentMemory).where(
            AgentMemory.client_account_id == account_id, AgentMemory.agent_type == AGENT_TYPE,
            AgentMemory.memory_content["pattern"].astext.in_(patterns)).values(
            usage_count=AgentMemory.usage_count + 1, last_accessed=datetime.now(timezone.utc)))


def record_run(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID | None,
               flow_id: uuid.UUID | None, started: datetime,
               mappings: list[ColumnMapping], description: str) -> AgentTaskHistory:
    """One `agent_task_history` row for a mapping run, with what it decided."""
    finished = datetime.now(timezone.utc)
    mapped = [m for m in mappings if m.target]
    entry = AgentTaskHistory(
        client_account_id=account_id, engagement_id=engagement_id, flow_id=flow_id,
        agent_name=AGENT_NAME, task_type="suggest_field_mappings",
        task_description=description, started_at=started, completed_at=finished,
        duration_seconds=int((finished - started).total_seconds()),
        success_rate=round(len(mapped) / len(mappings), 3) if mappings else 1.0,
        task_result={"columns": len(mappings), "mapped": len(mapped),
                     "learned": sum(m.method == "learned" for m in mappings),
                     "mapping": {m.source: m.target for m in mappings}})
    session.add(entry)
    session.flush()
    return entry
