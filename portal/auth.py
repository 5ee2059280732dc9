"""Passwords, login and login throttling (no Flask in here)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal import crypto
from portal.db import TenantContext, set_tenant
from portal.models import LoginAttempt, User

_hasher = PasswordHasher()
# Verified when the address is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

LOGIN_FAILED = "Invalid email or password."
LOGIN_THROTTLED = "Too many failed attempts. Wait a few minutes and try again."


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    throttled: bool = False

    @property
    def message(self) -> str | None:
        if self.throttled:
            return LOGIN_THROTTLED
        return None if self.user else LOGIN_FAILED


def find_user_by_email(session: Session, email: str) -> User | None:
    """Look a user up by the keyed hash of the address.  Row-level security shows a user
    row to a session only for itself, its colleagues, or the hash named in
    `app.login_email_hash`, which this sets for the current transaction only."""
    email_hash = crypto.cipher().lookup_hash(email)
    session.execute(text("SELECT set_config('app.login_email_hash', :h, true)"),
                    {"h": email_hash})
    return session.scalars(select(User).where(User.email_hash == email_hash)).first()


def _recent_failures(session: Session, email_hash: str, remote_addr: str | None,
                     since: datetime) -> tuple[int, int]:
    failed = (LoginAttempt.succeeded.is_(False)) & (LoginAttempt.attempted_at >= since)
    by_email = select(func.count()).where(failed, LoginAttempt.email_hash == email_hash)
    by_addr = select(func.count()).where(failed, LoginAttempt.remote_addr == remote_addr)
    return session.scalar(by_email) or 0, (session.scalar(by_addr) or 0) if remote_addr else 0


def authenticate(session: Session, email: str, password: str, remote_addr: str | None,
                 max_failures: int, window_seconds: int) -> LoginResult:
    """Check a login.  Throttles after `max_failures` failures for one address (or ten
    times that from one client address) within the window, with the same answer whether
    or not the account exists.  Records the attempt; the caller commits it."""
    email_hash = crypto.cipher().lookup_hash(email)
    since = datetime.now(timezone.utc) - timedelta(seconds=window_seconds)
    by_email, by_addr = _recent_failures(session, email_hash, remote_addr, since)
    if by_email >= max_failures or by_addr >= max_failures * 10:
        return LoginResult(None, throttled=True)
    user = find_user_by_email(session, email)
    password_ok = verify_password(user.password_hash if user else None, password)
    ok = password_ok and user is not None and bool(user.is_active)
    session.add(LoginAttempt(email_hash=email_hash, remote_addr=remote_addr, succeeded=ok))
    if not ok:
        reason = "inactive" if password_ok else "credentials"
        # A known user's failures show in the audit log of the account they land in.
        record_auth_event(session, "LOGIN_FAIL", user.id if user else None,
                          user.default_client_id if user else None,
                          reason=reason, remote_addr=remote_addr)
        return LoginResult(None)
    # From here on the session acts as this user (RLS lets a user update its own row).
    set_tenant(session, TenantContext(user_id=user.id, platform_admin=bool(user.is_admin)))
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login = datetime.now(timezone.utc)
    # Successes clear the address's failure count.
    session.execute(LoginAttempt.__table__.delete().where(
        LoginAttempt.email_hash == email_hash, LoginAttempt.succeeded.is_(False)))
    return LoginResult(user)


def record_auth_event(session: Session, event: str, user_id: uuid.UUID | None,
                      client_id: uuid.UUID | None, **details) -> None:
    """Put LOGIN, LOGIN_FAIL or LOGOUT into the audit log (no secrets in `details`)."""
    session.execute(text("SELECT record_auth_event(:event, :user, :client, "
                         "CAST(:details AS jsonb))"),
                    {"event": event, "user": user_id, "client": client_id,
                     "details": json.dumps(details)})


def prune_login_attempts(session: Session, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete attempts older than any throttling window; returns how many."""
    cutoff = datetime.now(timezone.utc) - older_than
    result = session.execute(LoginAttempt.__table__.delete().where(
        LoginAttempt.attempted_at < cutoff))
    return result.rowcount
