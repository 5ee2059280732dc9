"""The people of a client account: listing, inviting, roles, removal, deactivation, and
redeeming invitations (no Flask in here).

Invitations are one-time links: only a SHA-256 of the token is stored, the link is shown
once to the admin who made it, and it expires."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal.accounts import add_member, check_password, create_user
from portal.auth import find_user_by_email, hash_password
from portal.db import TenantContext, set_tenant
from portal.errors import DomainError, NotFound
from portal.models import ClientAccount, Invitation, User, UserAccountAssociation

INVITATION_LIFETIME = timedelta(hours=72)
EXPIRED_MESSAGE = ("This invitation link has expired or was already used. "
                   "Ask your administrator for a new one.")


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    name: str
    email: str
    role: str
    is_active: bool
    last_login: datetime | None
    invitation_pending: bool


def list_members(session: Session, account_id: uuid.UUID) -> list[Member]:
    """Everyone with a role in the account, with whether they still have to set a password."""
    rows = session.execute(
        select(User, UserAccountAssociation.role)
        .join(UserAccountAssociation, UserAccountAssociation.user_id == User.id)
        .where(UserAccountAssociation.client_account_id == account_id))
    members = [Member(u.id, u.display_name, u.email, role, bool(u.is_active), u.last_login,
                      u.password_hash is None) for u, role in rows]
    return sorted(members, key=lambda m: (m.name.lower(), m.email.lower()))


def membership(session: Session, account_id: uuid.UUID,
               user_id: uuid.UUID) -> UserAccountAssociation:
    """The user's membership of the account; NotFound for anyone else (even if they exist)."""
    found = session.scalar(select(UserAccountAssociation).where(
        UserAccountAssociation.client_account_id == account_id,
        UserAccountAssociation.user_id == user_id))
    if found is None:
        raise NotFound("no such member")
    return found


@dataclass(frozen=True)
class InvitationLink:
    user: User
    token: str
    expires_at: datetime
    new_user: bool


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_invitation(session: Session, account: ClientAccount, user: User,
                     invited_by: uuid.UUID | None) -> tuple[str, datetime]:
    """A fresh one-time token for the user to set a password (earlier ones stop working)."""
    session.execute(Invitation.__table__.update().where(
        Invitation.client_account_id == account.id, Invitation.user_id == user.id,
        Invitation.used_at.is_(None)).values(used_at=func.now()))
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(timezone.utc) + INVITATION_LIFETIME
    session.add(Invitation(client_account_id=account.id, user_id=user.id,
                           token_hash=_token_hash(token), created_by=invited_by,
                           expires_at=expires_at))
    session.flush()
    return token, expires_at


def invite(session: Session, account: ClientAccount, email: str, role: str,
           invited_by: uuid.UUID | None, first_name: str | None = None,
           last_name: str | None = None) -> InvitationLink:
    """Add someone to the account.  A new address becomes a user without a password and
    gets an invitation link; an existing user simply gains the membership (and a link only
    if they never set a password)."""
    existing = find_user_by_email(session, email)
    if existing is not None and session.scalar(select(UserAccountAssociation.id).where(
            UserAccountAssociation.client_account_id == account.id,
            UserAccountAssociation.user_id == existing.id)):
        raise DomainError(f"{email} is already a member of {account.name}")
    user = existing or create_user(session, email, None, first_name=first_name,
                                   last_name=last_name)
    add_member(session, account, user, role, created_by=invited_by)
    if existing is not None and existing.password_hash is not None:
        return InvitationLink(user, "", datetime.now(timezone.utc), new_user=False)
    token, expires_at = issue_invitation(session, account, user, invited_by)
    return InvitationLink(user, token, expires_at, new_user=existing is None)


def _admin_count(session: Session, account_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).where(
        UserAccountAssociation.client_account_id == account_id,
        UserAccountAssociation.role == "admin")) or 0


def _keep_an_admin(session: Session, account_id: uuid.UUID,
                   member: UserAccountAssociation) -> None:
    if member.role == "admin" and _admin_count(session, account_id) <= 1:
        raise DomainError("an account needs at least one admin: make someone else admin first")


def change_role(session: Session, account_id: uuid.UUID, user_id: uuid.UUID,
                role: str) -> UserAccountAssociation:
    member = membership(session, account_id, user_id)
    if role not in ("admin", "member", "viewer"):
        raise DomainError(f"invalid role {role!r}")
    if role != "admin":
        _keep_an_admin(session, account_id, member)
    member.role = role
    session.flush()
    return member


def remove_member(session: Session, account_id: uuid.UUID, user_id: uuid.UUID) -> None:
    member = membership(session, account_id, user_id)
    _keep_an_admin(session, account_id, member)
    session.delete(member)
    session.flush()


def deactivate_user(session: Session, account_id: uuid.UUID, user_id: uuid.UUID, *,
                    acting_user: User) -> User:
    """Stop a member from logging in anywhere (their sessions end at the next request).
    An account admin may do this only to people who belong to no other account; a
    platform admin to anyone but themselves."""
    member = membership(session, account_id, user_id)
    if user_id == acting_user.id:
        raise DomainError("you cannot deactivate yourself")
    elsewhere = session.scalar(text("SELECT memberships_elsewhere(:u)"), {"u": user_id})
    if elsewhere and not acting_user.is_admin:
        raise DomainError("this person also works in other accounts: remove them from this "
                          "account instead, or ask a platform administrator")
    _keep_an_admin(session, account_id, member)
    user = session.get(User, user_id)
    user.is_active = False
    user.session_generation += 1
    session.flush()
    return user


def redeem_invitation(session: Session, token: str, password: str) -> User:
    """Set the invited user's password from a valid, unused, unexpired link (once)."""
    token_hash = _token_hash(token)
    session.execute(text("SELECT set_config('app.invitation_token_hash', :h, true)"),
                    {"h": token_hash})
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == token_hash))
    if invitation is None or invitation.used_at is not None or \
            invitation.expires_at <= datetime.now(timezone.utc):
        raise DomainError(EXPIRED_MESSAGE)
    # Act as the invited user within their account: RLS lets a user update its own row.
    set_tenant(session, TenantContext(user_id=invitation.user_id,
                                      client_id=invitation.client_account_id))
    user = session.get(User, invitation.user_id)
    if user is None or not user.is_active:
        raise DomainError(EXPIRED_MESSAGE)
    user.password_hash = hash_password(check_password(password, user.email,
                                                      user.first_name or "",
                                                      user.last_name or ""))
    user.is_verified = True
    invitation.used_at = datetime.now(timezone.utc)
    session.flush()
    return user


def invitation_is_valid(session: Session, token: str) -> bool:
    """Whether a link still works (to show the form or the 'expired' message)."""
    token_hash = _token_hash(token)
    session.execute(text("SELECT set_config('app.invitation_token_hash', :h, true)"),
                    {"h": token_hash})
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == token_hash))
    return invitation is not None and invitation.used_at is None and \
        invitation.expires_at > datetime.now(timezone.utc)
