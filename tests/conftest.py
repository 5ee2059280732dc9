"""Test fixtures: a real PostgreSQL database, migrated once per session.

The server is the one in DATABASE_URL when set (CI and this machine: PostgreSQL 15),
otherwise an embedded server started for the session.  Each session gets a fresh
database; the app connects as the non-owner `portal_app`, so row-level security is in
force.  Each test runs inside a transaction that is rolled back afterwards (the app's
sessions join it through savepoints).
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from portal import create_app, embedded, migrate
from portal.config import Settings
from portal.db import TenantContext, make_session_factory

TEST_PASSWORD = "correct horse battery staple"


def _conninfo(url: str, dbname: str | None = None) -> str:
    """A libpq conninfo string for psycopg from a SQLAlchemy URL."""
    parsed = make_url(url)
    if dbname:
        parsed = parsed.set(database=dbname)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """Admin URL of a server whose `postgres` maintenance database we may use."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    base = Path(tempfile.mkdtemp(prefix="portal-test-"))
    base.chmod(0o711)  # the embedded server runs as portal-pg when we are root
    try:
        yield embedded.start(base / "instance")
    finally:
        embedded.stop(base / "instance")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def create_database(server_url):
    """Factory: a fresh empty database on the test server; dropped at session end."""
    made: list[str] = []
    maintenance = _conninfo(server_url, "postgres")

    def create() -> str:
        name = f"portal_test_{secrets.token_hex(4)}"
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield create
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def admin_url(create_database) -> str:
    """Superuser URL of the session's migrated database."""
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(admin_url, tmp_path_factory) -> Settings:
    instance = tmp_path_factory.mktemp("instance")
    return Settings(instance_path=instance, database_url=admin_url,
                    secret_key=secrets.token_urlsafe(32),
                    encryption_key=Fernet.generate_key().decode(),
                    lookup_key=secrets.token_urlsafe(32), app_db_password=None,
                    session_cookie_secure=False, max_upload_bytes=5 * 1024 * 1024,
                    login_max_failures=5, login_window_seconds=900)


@pytest.fixture(scope="session")
def app(settings):
    app = create_app({"TESTING": True}, settings=settings)
    yield app
    app.extensions["portal"].engine.dispose()


@pytest.fixture
def db_connection(app) -> Iterator:
    """An application-role connection in a transaction that is rolled back after the test;
    the app's request sessions join it with savepoints."""
    state = app.extensions["portal"]
    original = state.session_factory
    with state.engine.connect() as connection:
        transaction = connection.begin()
        state.session_factory = make_session_factory(
            connection, join_transaction_mode="create_savepoint")
        try:
            yield connection
        finally:
            state.session_factory = original
            transaction.rollback()


@pytest.fixture
def db_session(db_connection, app):
    """A session (as the application role) inside the test's transaction."""
    session = app.extensions["portal"].session_factory(
        info={"tenant": TenantContext(platform_admin=True)})
    yield session
    session.close()


@pytest.fixture
def client(app, db_connection):
    return app.test_client()


CSRF_PATTERN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class People:
    """Builds accounts, users and memberships for a test (inside its transaction)."""

    def __init__(self, session):
        self.session = session

    def _as_operator(self) -> None:
        """Requests of the test client share this transaction and leave their own tenant
        settings in it: put the operator's back before writing."""
        from portal.db import set_tenant
        set_tenant(self.session, self.session.info["tenant"])

    def account(self, slug: str | None = None, name: str = "Account"):
        from portal.accounts import create_account
        self._as_operator()
        return create_account(self.session, name, slug or f"acct-{uuid.uuid4().hex[:8]}")

    def user(self, role: str | None = None, account=None, *, admin: bool = False,
             email: str | None = None):
        from portal.accounts import add_member, create_user
        self._as_operator()
        user = create_user(self.session, email or f"{uuid.uuid4().hex[:10]}@example.com",
                           TEST_PASSWORD, is_admin=admin)
        if role:
            add_member(self.session, account, user, role)
        return user

    def engagement(self, account, name: str = "Engagement", slug: str | None = None):
        from portal.accounts import create_engagement
        from portal.db import set_tenant
        self._as_operator()
        context = self.session.info["tenant"]
        set_tenant(self.session, context.with_(client_id=account.id))
        try:
            return create_engagement(self.session, account, name,
                                     slug or f"eng-{uuid.uuid4().hex[:8]}")
        finally:
            set_tenant(self.session, context)


@pytest.fixture
def people(db_session) -> People:
    return People(db_session)


@pytest.fixture
def login(client):
    """Log the test client in through the real login form."""
    def login_as(user, password: str = TEST_PASSWORD):
        page = client.get("/login")
        response = client.post("/login", data={"email": user.email, "password": password,
                                               "csrf_token": csrf_token_from(page.text)})
        assert response.status_code == 302, response.text
        return response
    return login_as


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: they start servers and are the slowest."""
    items.sort(key=lambda item: "e2e" in item.nodeid)
