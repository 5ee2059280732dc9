"""The request's tenant: who is logged in, in which client account and engagement, with
which role; and the decorators every view uses to say what it needs.

The active account and engagement live in the Flask session and are re-checked against
the user's memberships on every request before they reach PostgreSQL as RLS settings.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import wraps

from flask import abort, flash, g, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.db import NO_TENANT, TenantContext, set_tenant
from portal.extensions import login_manager
from portal.models import ClientAccount, Engagement, User, UserAccountAssociation
from portal.web.request_db import db

ROLE_LEVELS = {"viewer": 1, "member": 2, "admin": 3}
# Served without looking at who is logged in (no database work per static file).
SESSIONLESS_ENDPOINTS = {"static", "health.healthz", "health.readyz"}


@dataclass(frozen=True)
class RequestTenant:
    context: TenantContext
    role: str | None = None  # the user's role in the active account
    account: ClientAccount | None = None
    engagement: Engagement | None = None


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user, unless deactivated or its sessions were ended since (password
    change, deactivation): then the request is anonymous and the session is dropped."""
    user = db().get(User, _uuid(user_id)) if _uuid(user_id) else None
    if user is None or not user.is_active or \
            session.get("generation") != user.session_generation:
        session.clear()
        return None
    return user


def remember_session_generation(user: User) -> None:
    """Tie this browser session to the user's current session generation."""
    session["generation"] = user.session_generation


def end_other_sessions(user: User) -> None:
    """Every other session of the user ends at its next request; this one goes on."""
    user.session_generation += 1
    if current_user.is_authenticated and current_user.id == user.id:
        remember_session_generation(user)


def resolve_tenant() -> None:
    """before_request: derive the tenant context and hand it to the database session."""
    g.tenant = RequestTenant(NO_TENANT)
    user_id = _uuid(session.get("_user_id"))
    if user_id is None or request.endpoint in SESSIONLESS_ENDPOINTS:
        return
    # The signed session cookie names the user; RLS needs that to let the user row load.
    set_tenant(db(), TenantContext(user_id=user_id))
    if not current_user.is_authenticated:
        set_tenant(db(), NO_TENANT)
        return
    context = TenantContext(user_id=user_id, platform_admin=bool(current_user.is_admin))
    account_id = _uuid(session.get("client_id"))
    role = None
    if account_id is not None:
        role = db().scalar(select(UserAccountAssociation.role).where(
            UserAccountAssociation.user_id == user_id,
            UserAccountAssociation.client_account_id == account_id))
        # Platform admins manage every account with an admin's rights.
        role = "admin" if current_user.is_admin else role
    account = engagement = None
    if role is not None:
        set_tenant(db(), context.with_(client_id=account_id))
        account = db().get(ClientAccount, account_id)
    if account is not None and account.is_active:
        context = context.with_(client_id=account_id)
        engagement_id = _uuid(session.get("engagement_id"))
        if engagement_id is not None:
            engagement = db().scalar(select(Engagement).where(
                Engagement.client_account_id == account_id, Engagement.id == engagement_id,
                Engagement.is_active.is_(True)))
        if engagement is not None:
            context = context.with_(engagement_id=engagement_id)
    else:
        role = account = None
    set_tenant(db(), context)
    g.tenant = RequestTenant(context, role, account, engagement)


def choose_context(account_id: uuid.UUID | None, engagement_id: uuid.UUID | None = None) -> None:
    """Remember the active account/engagement (checked again on the next request)."""
    session["client_id"] = str(account_id) if account_id else None
    session["engagement_id"] = str(engagement_id) if engagement_id else None


def require_role(minimum: str):
    """View decorator: logged in, an active account, and at least `minimum` there
    ('viewer' < 'member' < 'admin'); 'login' needs only a login, 'platform_admin' a
    platform administrator."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if minimum == "platform_admin":
                if not current_user.is_admin:
                    abort(403)
            elif minimum != "login":
                if g.tenant.account is None:
                    flash("Choose a client account first.", "info")
                    return redirect(url_for("accounts.index"))
                if ROLE_LEVELS[g.tenant.role] < ROLE_LEVELS[minimum]:
                    abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def require_engagement(view):
    """View decorator (inside require_role): an engagement must be active."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.tenant.engagement is None:
            flash("Choose an engagement first.", "info")
            return redirect(url_for("engagements.index"))
        return view(*args, **kwargs)
    return wrapped
