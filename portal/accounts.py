"""Client accounts, users, memberships and engagements (no Flask in here).

Every function takes the session explicitly and relies on the caller's tenant context:
row-level security decides what it can see and change.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from portal import crypto
from portal.auth import hash_password
from portal.errors import DomainError, NotFound
from portal.summary import refresh_engagement_summary
from portal.models import ROLES, ClientAccount, Engagement, User, UserAccountAssociation

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 12


def check_slug(slug: str) -> str:
    if not SLUG_PATTERN.match(slug):
        raise DomainError(f"invalid slug {slug!r}: use lowercase letters, digits and hyphens")
    return slug


def check_password(password: str, *context: str) -> str:
    """At least 12 characters and not easily guessed (zxcvbn score 3 or more, which refuses
    common passwords, keyboard walks and the user's own name or address)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    strength = zxcvbn(password[:100], user_inputs=[c for c in context if c])
    if strength["score"] < 3:
        warning = strength["feedback"]["warning"] or "It is too easy to guess."
        raise DomainError(f"password refused: {warning.rstrip('.')}. Choose a longer or "
                          "less common one")
    return password


def create_account(session: Session, name: str, slug: str, **fields) -> ClientAccount:
    check_slug(slug)
    if not name.strip():
        raise DomainError("account name is required")
    if session.scalar(select(ClientAccount.id).where(ClientAccount.slug == slug)):
        raise DomainError(f"an account with slug {slug!r} already exists")
    account = ClientAccount(name=name.strip(), slug=slug, **fields)
    session.add(account)
    session.flush()
    return account


def account_by_slug(session: Session, slug: str) -> ClientAccount:
    account = session.scalar(select(ClientAccount).where(ClientAccount.slug == slug))
    if account is None:
        raise NotFound(f"no client account with slug {slug!r}")
    return account


def _check_quota(session: Session, account: ClientAccount, model, limit: int | None,
                 what: str, *conditions) -> None:
    """Refuse to add the (limit+1)th row.  The account row is locked first, so two
    concurrent additions cannot both see room for one more."""
    if limit is None:
        return
    session.execute(select(ClientAccount.id).where(ClientAccount.id == account.id)
                    .with_for_update())
    used = session.scalar(select(func.count()).select_from(model).where(
        model.client_account_id == account.id, *conditions))
    if used >= limit:
        raise DomainError(f"{account.name} already has {used} of its {limit} {what}: "
                          "raise the quota or remove one first")


def create_user(session: Session, email: str, password: str | None, *, is_admin: bool = False,
                first_name: str | None = None, last_name: str | None = None) -> User:
    email = email.strip()
    if not EMAIL_PATTERN.match(email):
        raise DomainError(f"invalid email address {email!r}")
    email_hash = crypto.cipher().lookup_hash(email)
    if session.scalar(select(User.id).where(User.email_hash == email_hash)):
        raise DomainError(f"a user with email {email!r} already exists")
    user = User(email=email, email_hash=email_hash, is_admin=is_admin,
                first_name=first_name, last_name=last_name,
                password_hash=hash_password(check_password(password, email, first_name or "",
                                                                last_name or ""))
                if password else None)
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(
        User.email_hash == crypto.cipher().lookup_hash(email)))
    if user is None:
        raise NotFound(f"no user with email {email!r}")
    return user


def add_member(session: Session, account: ClientAccount, user: User, role: str,
               created_by: uuid.UUID | None = None) -> UserAccountAssociation:
    """Give a user a role in an account (or change the role it has there)."""
    if role not in ROLES:
        raise DomainError(f"invalid role {role!r}: choose one of {', '.join(ROLES)}")
    membership = session.scalar(select(UserAccountAssociation).where(
        UserAccountAssociation.user_id == user.id,
        UserAccountAssociation.client_account_id == account.id))
    if membership is None:
        _check_quota(session, account, UserAccountAssociation, account.max_users, "users")
        membership = UserAccountAssociation(user_id=user.id, client_account_id=account.id,
                                            role=role, created_by=created_by)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def create_engagement(session: Session, account: ClientAccount, name: str, slug: str,
                      created_by: uuid.UUID | None = None, **fields) -> Engagement:
    check_slug(slug)
    if not name.strip():
        raise DomainError("engagement name is required")
    _check_quota(session, account, Engagement, account.max_engagements, "engagements",
                 Engagement.is_active.is_(True))
    exists = select(Engagement.id).where(Engagement.client_account_id == account.id,
                                         Engagement.slug == slug)
    if session.scalar(exists):
        raise DomainError(f"engagement {slug!r} already exists in account {account.slug!r}")
    engagement = Engagement(client_account_id=account.id, name=name.strip(), slug=slug,
                            created_by=created_by, **fields)
    session.add(engagement)
    session.flush()
    # A new engagement is rare and should show on dashboards at once.
    refresh_engagement_summary(session)
    return engagement


@dataclass(frozen=True)
class Membership:
    account_id: uuid.UUID
    account_name: str
    account_slug: str
    role: str


def memberships_of(session: Session, user_id: uuid.UUID) -> list[Membership]:
    """The active accounts a user belongs to, for the account switcher."""
    rows = session.execute(
        select(ClientAccount.id, ClientAccount.name, ClientAccount.slug,
               UserAccountAssociation.role)
        .join(UserAccountAssociation,
              UserAccountAssociation.client_account_id == ClientAccount.id)
        .where(UserAccountAssociation.user_id == user_id, ClientAccount.is_active.is_(True))
        .order_by(ClientAccount.name))
    return [Membership(*row) for row in rows]


def switchable_accounts(session: Session, user: User) -> list[Membership]:
    """The accounts a user may work in: their memberships, or every active account (with
    an admin's rights) for a platform administrator."""
    if user.is_admin:
        return [Membership(a.id, a.name, a.slug, "platform admin")
                for a in active_accounts(session)]
    return memberships_of(session, user.id)


def active_accounts(session: Session) -> list[ClientAccount]:
    """Every active account the session may see (all of them for a platform admin)."""
    return list(session.scalars(select(ClientAccount).where(ClientAccount.is_active.is_(True))
                                .order_by(ClientAccount.name)))


def engagements_of(session: Session, account_id: uuid.UUID) -> list[Engagement]:
    return list(session.scalars(
        select(Engagement).where(Engagement.client_account_id == account_id,
                                 Engagement.is_active.is_(True))
        .order_by(Engagement.name)))


def engagement_in(session: Session, account_id: uuid.UUID,
                  engagement_id: uuid.UUID) -> Engagement:
    """An engagement of the given account; another tenant's answers NotFound, the same as
    a missing one."""
    engagement = session.scalar(select(Engagement).where(
        Engagement.client_account_id == account_id, Engagement.id == engagement_id))
    if engagement is None:
        raise NotFound("no such engagement")
    return engagement


def starting_context(session: Session, user: User) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The account and engagement a user lands in after login: their defaults while they
    are still a member, else their first account.  (The engagement is checked against the
    account on the next request, once the account is the tenant.)"""
    accounts = [m.account_id for m in memberships_of(session, user.id)]
    if user.default_client_id in accounts:
        return user.default_client_id, user.default_engagement_id
    return (accounts[0] if accounts else None), None
