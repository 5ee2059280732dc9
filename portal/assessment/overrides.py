"""Consultant overrides of 6R recommendations, and what the engine learns from them (no Flask
in here).

An override is a new `sixr_analysis` row (`analyzed_by = 'user:<id>'`) whose
`analysis_criteria["override"]` keeps the engine's original recommendation, the reason and
who decided; the engine's own row stays.  The asset's `sixr_recommendation` follows the
override.  The decision is also remembered in `agent_memory` (agent type `sixr_override`,
memory type `feedback`), one memory per overridden asset (a second override of the same
asset replaces the first), holding the asset's similarity key: later assessments in the
same account read them all (`learned_choices`) and move similar assets toward the
consultants' choice.  Other accounts never see them (row-level security, and the query is
per account anyway).
"""
from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from portal.assessment.scope import facts_of_asset
from portal.assessment.facts import LearnedChoices, similarity_key
from portal.assessment.store import ENGINE, OVERRIDE_BY
from portal.errors import DomainError, NotFound
from portal.models import STRATEGIES, AgentMemory, Asset, SixrAnalysis

AGENT_TYPE = "sixr_override"
REASON_MAX = 2_000

_REMEMBER = text("""
    INSERT INTO agent_memory (client_account_id, engagement_id, agent_type, memory_type,
                              memory_content, confidence_score, usage_count, last_accessed,
                              context_tags)
    VALUES (:client, :engagement, :agent_type, 'feedback', CAST(:content AS jsonb), 1.0, 0,
            now(), CAST(:tags AS jsonb))
    ON CONFLICT (client_account_id, agent_type, (memory_content ->> 'pattern')) DO UPDATE
    SET memory_content = EXCLUDED.memory_content, context_tags = EXCLUDED.context_tags,
        engagement_id = EXCLUDED.engagement_id, last_accessed = now()
""")


def engine_analysis(session: Session, account_id: uuid.UUID, asset_id: uuid.UUID
                    ) -> SixrAnalysis | None:
    return session.scalars(select(SixrAnalysis).where(
        SixrAnalysis.client_account_id == account_id, SixrAnalysis.asset_id == asset_id,
        SixrAnalysis.analyzed_by == ENGINE).order_by(SixrAnalysis.analyzed_at.desc())
        .limit(1)).first()


def override_history(session: Session, account_id: uuid.UUID, asset_id: uuid.UUID
                     ) -> list[SixrAnalysis]:
    """The asset's overrides, newest first."""
    return list(session.scalars(select(SixrAnalysis).where(
        SixrAnalysis.client_account_id == account_id, SixrAnalysis.asset_id == asset_id,
        SixrAnalysis.analyzed_by.startswith(OVERRIDE_BY))
        .order_by(SixrAnalysis.analyzed_at.desc(), SixrAnalysis.id)))


def override_recommendation(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                            asset_id: uuid.UUID, strategy: str, reason: str,
                            user_id: uuid.UUID, user_name: str) -> SixrAnalysis:
    """Record a consultant's decision for an asset; DomainError when it is not one."""
    strategy, reason = (strategy or "").strip().lower(), (reason or "").strip()
    if strategy not in STRATEGIES:
        raise DomainError(f"choose a strategy: {', '.join(STRATEGIES)}")
    if not reason:
        raise DomainError("say why: the reason is kept with the decision and shown to others")
    if len(reason) > REASON_MAX:
        raise DomainError(f"the reason is too long (at most {REASON_MAX} characters)")
    facts = facts_of_asset(session, account_id, engagement_id, asset_id)
    if facts is None:
        raise NotFound("asset not found")
    original = engine_analysis(session, account_id, asset_id)
    if original is None:
        raise DomainError("this asset has not been assessed yet: run an assessment first")
    key = list(similarity_key(facts))
    now = datetime.now(timezone.utc)
    decision = {"strategy": strategy, "reason": reason, "by": str(user_id),
                "by_name": user_name, "at": now.isoformat(), "similarity_key": key,
                "original": {"strategy": original.primary_recommendation,
                             "confidence": original.confidence_score,
                             "analysis_id": str(original.id)}}
    row = SixrAnalysis(client_account_id=account_id, engagement_id=engagement_id,
                       asset_id=asset_id, primary_recommendation=strategy,
                       confidence_score=1.0, rationale=reason,
                       alternative_options=[{"strategy": original.primary_recommendation,
                                             "score": None, "engine": True}],
                       analysis_criteria={"override": decision},
                       cost_estimation=original.cost_estimation,
                       effort_estimation=original.effort_estimation,
                       risk_factors=original.risk_factors,
                       analyzed_by=f"{OVERRIDE_BY}{user_id}", analyzed_at=now)
    session.add(row)
    session.execute(update(Asset).where(
        Asset.client_account_id == account_id, Asset.id == asset_id).values(
        sixr_recommendation=strategy).execution_options(synchronize_session=False))
    content = {"pattern": f"asset:{asset_id}", "similarity_key": key, "strategy": strategy,
               "original": original.primary_recommendation, "reason": reason}
    session.execute(_REMEMBER, {"client": account_id, "engagement": engagement_id,
                                "agent_type": AGENT_TYPE, "content": json.dumps(content),
                                "tags": json.dumps([strategy, *key])})
    session.flush()
    return row


def learned_choices(session: Session, account_id: uuid.UUID) -> LearnedChoices:
    """Every override in the account, counted per similarity key and strategy."""
    counts: defaultdict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for content in session.scalars(select(AgentMemory.memory_content).where(
            AgentMemory.client_account_id == account_id, AgentMemory.agent_type == AGENT_TYPE)):
        key, strategy = content.get("similarity_key"), content.get("strategy")
        if isinstance(key, list) and len(key) == 3 and strategy in STRATEGIES:
            counts[tuple(key)][strategy] += 1
    return LearnedChoices(by_key={key: dict(sorted(c.items())) for key, c in
                                  sorted(counts.items())})


def mark_used(session: Session, account_id: uuid.UUID,
              keys: set[tuple[str, str, str]]) -> None:
    """Count the memories an assessment relied on (usage_count, last_accessed)."""
    if keys:
        session.execute(update(AgentMemory).where(
            AgentMemory.client_account_id == account_id, AgentMemory.agent_type == AGENT_TYPE,
            AgentMemory.memory_content["similarity_key"].in_(
                [list(k) for k in sorted(keys)])).values(
            usage_count=AgentMemory.usage_count + 1, last_accessed=datetime.now(timezone.utc))
            .execution_options(synchronize_session=False))
