"""Login, logout, throttling, CSRF, cookies and headers."""
from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_PASSWORD, csrf_token_from


def test_login_lands_on_dashboard_of_first_account(client, people, login):
    account = people.account(name="Northwind")
    user = people.user("member", account)
    login(user)
    page = client.get("/")
    assert page.status_code == 200
    assert "Northwind" in page.text


def test_wrong_password_is_refused_with_generic_message(client, people):
    user = people.user()
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": "nope-nope-nope",
                                           "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 401
    assert "Invalid email or password." in response.text
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_answer(client):
    page = client.get("/login")
    response = client.post("/login", data={"email": "ghost@example.com",
                                           "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 401
    assert "Invalid email or password." in response.text


def test_deactivated_user_cannot_log_in(client, people, db_session):
    user = people.user()
    user.is_active = False
    db_session.flush()
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 401


@pytest.mark.parametrize("known", [True, False])
def test_throttling_after_repeated_failures(client, people, known, settings):
    email = people.user().email if known else "nobody@example.com"
    token = csrf_token_from(client.get("/login").text)
    statuses = [client.post("/login", data={"email": email, "password": "wrong-password!",
                                            "csrf_token": token}).status_code
                for _ in range(settings.login_max_failures)]
    assert statuses == [401] * settings.login_max_failures
    blocked = client.post("/login", data={"email": email, "password": TEST_PASSWORD,
                                          "csrf_token": token})
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.text


def test_logout_ends_the_session(client, people, login):
    account = people.account()
    login(people.user("viewer", account))
    token = csrf_token_from(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_login_starts_a_new_session(client, people, login):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone before login"
    login(people.user())
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"]


def test_form_post_without_csrf_token_is_rejected(client, people):
    user = people.user()
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "expired or was not sent from this site" in response.text


def test_htmx_post_needs_csrf_header(client, people, login):
    account = people.account()
    login(people.user("member", account))
    page = client.get("/")
    form = {"account_id": str(account.id)}
    without = client.post("/accounts/switch", data=form, headers={"HX-Request": "true"})
    assert without.status_code == 400
    with_header = client.post("/accounts/switch", data=form, headers={
        "HX-Request": "true", "X-CSRFToken": csrf_token_from(page.text)})
    assert with_header.status_code == 204
    assert with_header.headers["HX-Redirect"] == "/"


def test_session_cookie_flags(app, client, people, login):
    response = login(people.user())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in this test
    secure = app.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in secure.headers["Set-Cookie"]


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


PUBLIC_ENDPOINTS = {"static", "auth.login", "health.healthz", "health.readyz",
                    "members.accept_invitation", "admin.branding_css"}
ANY_UUID = "00000000-0000-0000-0000-000000000000"


def concrete_path(rule: str) -> str:
    return re.sub(r"<uuid:[a-z_]+>", ANY_UUID, re.sub(r"<(?:string:)?[a-z_]+>", "x", rule))


def test_every_protected_url_redirects_anonymous_users_to_login(app, client):
    token = csrf_token_from(client.get("/login").text)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(concrete_path(rule.rule), method=method, data=data)
            assert response.status_code == 302, (method, rule.rule, response.status_code)
            assert response.headers["Location"].startswith("/login"), (method, rule.rule)
            checked += 1
    assert checked >= 20


def test_anonymous_post_without_csrf_token_is_refused_first(client):
    response = client.post("/accounts/switch", data={"account_id": ANY_UUID})
    assert response.status_code == 400


def test_next_parameter_only_follows_local_paths(client, people):
    account = people.account()
    user = people.user("member", account)
    token = csrf_token_from(client.get("/login").text)
    response = client.post("/login?next=https://evil.example/", data={
        "email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_error_pages_are_friendly(client, people, login):
    account = people.account()
    login(people.user("viewer", account))
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Traceback" not in missing.text and "Not found" in missing.text
