"""Running flows from the command line: the tenant named by slugs, and a flow run to its end
in this process (no Flask in here)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.accounts import account_by_slug
from portal.db import TenantContext, session_scope, set_tenant
from portal.errors import NotFound
from portal.models import Engagement

OPERATOR = TenantContext(platform_admin=True)  # the command line's tenant context


def tenant_by_slugs(factory: sessionmaker[Session], account_slug: str,
                    engagement_slug: str) -> TenantContext:
    """The tenant context of an engagement named by its account's and its own slug."""
    with session_scope(factory, OPERATOR) as session:
        account = account_by_slug(session, account_slug)
        set_tenant(session, OPERATOR.with_(client_id=account.id))
        engagement_id = session.scalar(select(Engagement.id).where(
            Engagement.client_account_id == account.id, Engagement.slug == engagement_slug))
        if engagement_id is None:
            raise NotFound(f"no engagement {engagement_slug!r} in account {account_slug!r}")
        return TenantContext(client_id=account.id, engagement_id=engagement_id)

