"""The request's tenant: switching accounts and engagements, roles, and other tenants'
objects answering 404 exactly like missing ones."""
from __future__ import annotations

import uuid

import pytest

from tests.conftest import csrf_token_from


@pytest.fixture
def two_accounts(people):
    mine, theirs = people.account(name="Mine"), people.account(name="Theirs")
    return mine, theirs, people.engagement(mine, "My engagement"), \
        people.engagement(theirs, "Their engagement")


def test_other_tenants_engagement_is_404_like_a_missing_one(client, people, login,
                                                             two_accounts):
    mine, theirs, my_engagement, their_engagement = two_accounts
    login(people.user("member", mine))
    assert client.get(f"/engagements/{my_engagement.id}").status_code == 200
    foreign = client.get(f"/engagements/{their_engagement.id}")
    missing = client.get(f"/engagements/{uuid.uuid4()}")
    assert foreign.status_code == missing.status_code == 404
    assert "Their engagement" not in foreign.text


def test_cannot_switch_into_another_tenants_engagement(client, people, login, two_accounts):
    mine, theirs, my_engagement, their_engagement = two_accounts
    login(people.user("viewer", mine))
    token = csrf_token_from(client.get("/engagements/").text)
    refused = client.post("/engagements/switch",
                          data={"engagement_id": str(their_engagement.id), "csrf_token": token})
    assert refused.status_code == 404
    accepted = client.post("/engagements/switch",
                           data={"engagement_id": str(my_engagement.id), "csrf_token": token})
    assert accepted.status_code == 302
    assert "My engagement" in client.get("/assets/").text


def test_cannot_switch_into_an_account_without_membership(client, people, login, two_accounts):
    mine, theirs, _, _ = two_accounts
    login(people.user("member", mine))
    token = csrf_token_from(client.get("/").text)
    assert client.post("/accounts/switch", data={"account_id": str(theirs.id),
                                                  "csrf_token": token}).status_code == 404
    assert "Theirs" not in client.get("/accounts/").text


def test_forged_session_account_is_ignored(client, people, login, two_accounts):
    mine, theirs, _, their_engagement = two_accounts
    login(people.user("member", mine))
    with client.session_transaction() as session:
        session["client_id"] = str(theirs.id)  # as if the cookie named another tenant
        session["engagement_id"] = str(their_engagement.id)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/accounts/"


def test_platform_admin_may_work_in_any_account(client, people, login, two_accounts):
    mine, theirs, _, their_engagement = two_accounts
    login(people.user(admin=True))
    token = csrf_token_from(client.get("/accounts/").text)
    assert client.post("/accounts/switch", data={"account_id": str(theirs.id),
                                                  "csrf_token": token}).status_code == 302
    assert client.get(f"/engagements/{their_engagement.id}").status_code == 200
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
def test_admin_pages_are_for_platform_admins_only(client, people, login, role):
    account = people.account()
    login(people.user(role, account))
    assert client.get("/admin/").status_code == 403


def test_engagement_pages_ask_for_an_engagement_first(client, people, login):
    account = people.account()
    login(people.user("viewer", account))
    for path in ("/imports/", "/assets/", "/flows/", "/sixr/"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/engagements/"


def test_user_without_account_is_sent_to_choose_one(client, people, login):
    login(people.user())
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/accounts/"
    assert "not a member of any client account" in client.get("/accounts/").text
