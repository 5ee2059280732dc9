"""Engines, sessions, and the tenant context every transaction carries into PostgreSQL.

Row-level security reads three transaction-scoped settings.  The `after_begin` hook sets
them at the start of every transaction from `session.info["tenant"]`, always to a value
(empty when unknown) so a session without a tenant sees no tenant rows: it fails closed.
`set_config(..., true)` is local to the transaction, so nothing survives on a pooled
connection (plain `SET` would).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from portal.config import APP_ROLE

_SET_CONTEXT = text(
    "SELECT set_config('app.current_client_id', :client, true),"
    " set_config('app.current_engagement_id', :engagement, true),"
    " set_config('app.current_user_id', :user, true),"
    " set_config('app.platform_admin', :admin, true)"
)


@dataclass(frozen=True)
class TenantContext:
    """Who is asking, and within which client account and engagement."""

    client_id: uuid.UUID | None = None
    engagement_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    platform_admin: bool = False

    def with_(self, **changes) -> "TenantContext":
        return replace(self, **changes)

    def as_settings(self) -> dict[str, str]:
        return {
            "client": str(self.client_id or ""),
            "engagement": str(self.engagement_id or ""),
            "user": str(self.user_id or ""),
            "admin": "on" if self.platform_admin else "",
        }


NO_TENANT = TenantContext()


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs; always use the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def app_role_url(admin_url: str, password: str | None) -> str:
    """The same server and database, as the application's own non-owner role."""
    parsed = make_url(normalise_url(admin_url)).set(username=APP_ROLE, password=password)
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **options) -> Engine:
    defaults = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20,
                "pool_recycle": 3600}
    return create_engine(normalise_url(url), **(defaults | options))


def apply_tenant_settings(session: Session, transaction, connection: Connection) -> None:
    """`after_begin` hook: put the session's tenant context into the new transaction."""
    context: TenantContext = session.info.get("tenant", NO_TENANT)
    connection.execute(_SET_CONTEXT, context.as_settings())


def make_session_factory(bind: Engine | Connection, **options) -> sessionmaker[Session]:
    factory = sessionmaker(bind=bind, expire_on_commit=False, autoflush=False, **options)
    event.listen(factory, "after_begin", apply_tenant_settings)
    return factory


def set_tenant(session: Session, context: TenantContext) -> None:
    """Change the session's tenant context, including inside a transaction already begun."""
    session.info["tenant"] = context
    if session.in_transaction():
        session.execute(_SET_CONTEXT, context.as_settings())


@contextmanager
def session_scope(factory: sessionmaker[Session],
                  context: TenantContext = NO_TENANT) -> Iterator[Session]:
    """A unit of work outside a web request (CLI, jobs): commit on success, else roll back."""
    session = factory(info={"tenant": context})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
