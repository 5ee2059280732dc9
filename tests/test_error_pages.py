"""Errors answer with a friendly page and the right status, never a stack trace."""
from __future__ import annotations

import dataclasses

from portal import create_app
from tests.conftest import csrf_token_from


def test_oversized_request_gets_413_page(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    token = csrf_token_from(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "email": "a" * (limit + 1)})
    assert response.status_code == 413
    assert "larger than this portal accepts" in response.text


def test_database_failure_gets_500_page_without_trace(settings):
    broken = dataclasses.replace(
        settings, database_url="postgresql://portal_app@127.0.0.1:1/unreachable")
    app = create_app({"TESTING": True}, settings=broken)
    client = app.test_client()
    token = csrf_token_from(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "email": "a@example.com",
                                           "password": "whatever-password"})
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "Traceback" not in response.text and "psycopg" not in response.text
    assert client.get("/readyz").status_code == 503
    app.extensions["portal"].engine.dispose()


def test_htmx_errors_are_fragments(client):
    response = client.get("/no-such-page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert response.text.startswith('<div class="alert alert-danger"')
