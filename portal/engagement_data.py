"""Read-only listings of what an engagement holds: imports, assets, flows, 6R results.

Every query names the tenant and the engagement explicitly (and RLS enforces the tenant
again).  Pages keep to `limit` rows; later work adds filters and keyset pagination."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Asset, DataImport, MasterFlow, SixrAnalysis

DEFAULT_LIMIT = 100


def _in_engagement(model, account_id: uuid.UUID, engagement_id: uuid.UUID):
    return select(model).where(model.client_account_id == account_id,
                               model.engagement_id == engagement_id)


def imports_of(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
               limit: int = DEFAULT_LIMIT) -> list[DataImport]:
    query = _in_engagement(DataImport, account_id, engagement_id)
    return list(session.scalars(query.order_by(DataImport.created_at.desc()).limit(limit)))


def assets_of(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
              limit: int = DEFAULT_LIMIT) -> list[Asset]:
    query = _in_engagement(Asset, account_id, engagement_id)
    return list(session.scalars(query.order_by(Asset.asset_name, Asset.id).limit(limit)))


def flows_of(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
             limit: int = DEFAULT_LIMIT) -> list[MasterFlow]:
    query = _in_engagement(MasterFlow, account_id, engagement_id)
    return list(session.scalars(query.order_by(MasterFlow.created_at.desc()).limit(limit)))


def sixr_results_of(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                    limit: int = DEFAULT_LIMIT) -> list[SixrAnalysis]:
    query = _in_engagement(SixrAnalysis, account_id, engagement_id)
    return list(session.scalars(query.order_by(SixrAnalysis.analyzed_at.desc()).limit(limit)))
