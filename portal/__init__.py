"""Modernize Migration Portal."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import crypto
from portal.config import PROJECT_ROOT, Settings
from portal.db import app_role_url, make_engine, make_session_factory


@dataclass
class PortalState:
    """What create_app() binds to the app: settings and the application-role database."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]


def create_app(config: dict | None = None, settings: Settings | None = None) -> Flask:
    """Build the portal.  `settings.database_url` must be the admin URL of a migrated
    database (the CLI starts the embedded server and fills it in when unset); the app
    itself connects as the non-owner application role."""
    settings = settings or Settings.from_env()
    if not settings.database_url:
        raise RuntimeError("no database configured: run the portal through 'portal serve'")
    app = Flask(__name__, instance_path=str(settings.instance_path),
                template_folder=str(PROJECT_ROOT / "templates"),
                static_folder=str(PROJECT_ROOT / "static"))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_NAME="portal_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        PROXY_FIX=settings.proxy_fix,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        WTF_CSRF_HEADERS=["X-CSRFToken"],
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
    )
    app.config.update(config or {})
    crypto.configure(settings.encryption_key, settings.lookup_key)
    engine = make_engine(app_role_url(settings.database_url, settings.app_db_password),
                         **app.config.get("ENGINE_OPTIONS", {}))
    app.extensions["portal"] = PortalState(settings, engine, make_session_factory(engine))
    if app.config.get("PROXY_FIX"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    _init_web(app)
    return app


def _init_web(app: Flask) -> None:
    from portal import security, tenancy
    from portal.extensions import csrf, login_manager
    from portal.web import errors, register_blueprints, request_db, template_helpers

    app.session_interface = security.SessionInterface()
    login_manager.init_app(app)
    csrf.init_app(app)
    request_db.init_app(app)
    errors.init_app(app)
    template_helpers.init_app(app)
    app.before_request(tenancy.resolve_tenant)
    app.after_request(security.add_security_headers)
    register_blueprints(app)
