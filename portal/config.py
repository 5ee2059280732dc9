"""Settings read from the environment, with safe defaults.

Secrets that are not given (the Flask secret key, the field-encryption key, the keyed hash
key) are generated once and persisted under the instance folder, so a fresh checkout runs
without configuration and restarts keep sessions and encrypted data readable.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent

APP_ROLE = "portal_app"
OWNER_ROLE = "portal_owner"
SUMMARY_ROLE = "portal_summary"


def _persisted_secret(instance_path: Path, name: str, make) -> str:
    """Read a secret file under the instance folder, creating it (mode 0600) if missing."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


@dataclass
class Settings:
    """Everything the portal reads from its environment."""

    instance_path: Path
    database_url: str | None
    secret_key: str
    encryption_key: str
    lookup_key: str
    app_db_password: str | None
    session_cookie_secure: bool
    max_upload_bytes: int
    login_max_failures: int
    login_window_seconds: int
    proxy_fix: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        instance = Path(env.get("PORTAL_INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()
        return cls(
            instance_path=instance,
            database_url=env.get("DATABASE_URL") or None,
            secret_key=env.get("SECRET_KEY")
            or _persisted_secret(instance, "secret_key", lambda: secrets.token_urlsafe(48)),
            encryption_key=env.get("PORTAL_ENCRYPTION_KEY")
            or _persisted_secret(instance, "encryption_key", lambda: Fernet.generate_key().decode()),
            lookup_key=env.get("PORTAL_LOOKUP_KEY")
            or _persisted_secret(instance, "lookup_key", lambda: secrets.token_urlsafe(32)),
            app_db_password=env.get("PORTAL_APP_DB_PASSWORD") or None,
            session_cookie_secure=env.get("SESSION_COOKIE_SECURE") == "true",
            max_upload_bytes=int(env.get("PORTAL_MAX_UPLOAD_MB", "200")) * 1024 * 1024,
            login_max_failures=int(env.get("PORTAL_LOGIN_MAX_FAILURES", "5")),
            login_window_seconds=int(env.get("PORTAL_LOGIN_WINDOW_SECONDS", "900")),
            proxy_fix=env.get("PORTAL_PROXY_FIX") == "1",
        )
