"""Reading flows for the pages (no Flask in here)."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.errors import NotFound
from portal.flows.engine import flow_type
from portal.models import MasterFlow


def flow_in(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
            flow_id: uuid.UUID):
    """(master, child) of a flow of this engagement; another tenant's is NotFound."""
    master = session.scalar(select(MasterFlow).where(
        MasterFlow.client_account_id == account_id, MasterFlow.engagement_id == engagement_id,
        MasterFlow.flow_id == flow_id))
    if master is None:
        raise NotFound("no such flow")
    child_model = flow_type(master.flow_type).child_model
    child = session.scalar(select(child_model).where(
        child_model.client_account_id == account_id, child_model.flow_id == flow_id))
    return master, child
