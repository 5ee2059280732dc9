"""Read-only listings of what an engagement holds: imports, assets, flows, 6R results.

Every query names the tenant and the engagement explicitly (and RLS enforces the tenant
again).  Pages keep to `limit` rows; later work adds filters and keyset pagination."""
from __future__ import annotations

import uuid
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Asset, DataImport, MasterFlow, SixrAnalysis

DEFAULT_LIMIT = 100


def rows_in_engagement(model, order_by, session: Session, account_id: uuid.UUID,
                       engagement_id: uuid.UUID, limit: int = DEFAULT_LIMIT) -> list:
    """Rows of `model` in one engagement of one account, in `order_by` order."""
    query = select(model).where(model.client_account_id == account_id,
                                model.engagement_id == engagement_id)
    return list(session.scalars(query.order_by(*order_by).limit(limit)))


imports_of = partial(rows_in_engagement, DataImport, (DataImport.created_at.desc(),))
# By the natural key: its unique index serves the order on large engagements.
assets_of = partial(rows_in_engagement, Asset, (Asset.asset_key, Asset.id))
flows_of = partial(rows_in_engagement, MasterFlow, (MasterFlow.created_at.desc(),))
sixr_results_of = partial(rows_in_engagement, SixrAnalysis, (SixrAnalysis.analyzed_at.desc(),))
