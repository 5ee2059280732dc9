"""A user's own settings: password and where they land after login (no Flask in here)."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from portal.accounts import check_password, engagement_in, switchable_accounts
from portal.auth import hash_password, verify_password
from portal.db import set_tenant
from portal.errors import DomainError, NotFound
from portal.models import User


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Replace the password after checking the current one; the caller ends the user's
    other sessions."""
    if not verify_password(user.password_hash, current):
        raise DomainError("the current password is not right")
    if current == new:
        raise DomainError("the new password must differ from the current one")
    user.password_hash = hash_password(check_password(new, user.email, user.first_name or "",
                                                      user.last_name or ""))
    session.flush()


def save_defaults(session: Session, user: User, account_id: uuid.UUID | None,
                  engagement_id: uuid.UUID | None) -> None:
    """Remember the account (and engagement in it) to land in after login."""
    if account_id is not None and account_id not in {
            m.account_id for m in switchable_accounts(session, user)}:
        raise NotFound("no such account")
    if engagement_id is not None:
        if account_id is None:
            raise DomainError("choose the account of the default engagement too")
        context = session.info["tenant"]
        set_tenant(session, context.with_(client_id=account_id))
        try:
            engagement_in(session, account_id, engagement_id)
        finally:
            set_tenant(session, context)
    user.default_client_id = account_id
    user.default_engagement_id = engagement_id
    session.flush()
