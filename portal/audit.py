"""Reading the audit log (it is written only by database triggers)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import AuditLog


def latest_entries(session: Session, limit: int = 50) -> list[AuditLog]:
    """The newest entries the session may see (its tenant's, or all for platform admins)."""
    query = select(AuditLog).order_by(AuditLog.timestamp.desc(), AuditLog.id.desc())
    return list(session.scalars(query.limit(limit)))
