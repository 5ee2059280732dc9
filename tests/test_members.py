"""Members of an account: invitations, roles, removal, deactivation; a user's own password
and defaults; sessions that end when they should."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal.db import set_tenant
from portal.models import Invitation, User, UserAccountAssociation
from tests.conftest import TEST_PASSWORD, csrf_token_from

NEW_PASSWORD = "violet tractor umbrella seventeen"


@pytest.fixture
def account(people):
    return people.account(name="Acme")


@pytest.fixture
def admin(people, account):
    return people.user("admin", account)


def post(client, path, data=None, page="/members/", **kwargs):
    token = csrf_token_from(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


def invite(client, email, role="member", **extra):
    return post(client, "/members/invite", {"email": email, "role": role, **extra},
                page="/members/invite")


def link_path(response) -> str:
    match = re.search(r'value="http://localhost(/invite/[^"]+)"', response.text)
    assert match, response.text
    return match.group(1)


def as_account(db_session, account):
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))


def test_invitation_lets_a_new_person_set_a_password_once(app, client, login, admin, account,
                                                          db_session):
    login(admin)
    response = invite(client, "new.person@example.com", "viewer", first_name="New")
    assert response.status_code == 200 and "one-time link" in response.text
    path = link_path(response)
    as_account(db_session, account)
    user = db_session.scalar(select(User).where(User.first_name == "New"))
    assert user.password_hash is None
    stranger = app.test_client()
    assert stranger.get(path).status_code == 200
    weak = post(stranger, path, {"password": "password1234", "confirm": "password1234"},
                page=path)
    assert weak.status_code == 400 and "password refused" in weak.text
    done = post(stranger, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, page=path)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    again = stranger.get(path)
    assert again.status_code == 410 and "expired or was already used" in again.text
    token = csrf_token_from(stranger.get("/login").text)
    logged_in = stranger.post("/login", data={"email": "new.person@example.com",
                                              "password": NEW_PASSWORD, "csrf_token": token})
    assert logged_in.status_code == 302
    assert "Acme" in stranger.get("/").text


def test_expired_invitation_is_refused(app, client, login, admin, account, db_session):
    login(admin)
    path = link_path(invite(client, "late@example.com"))
    as_account(db_session, account)
    for invitation in db_session.scalars(select(Invitation)):
        invitation.expires_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    db_session.flush()
    stranger = app.test_client()
    assert stranger.get(path).status_code == 410
    token = csrf_token_from(stranger.get("/login").text)
    response = stranger.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                         "csrf_token": token})
    assert response.status_code == 410
    assert app.test_client().get("/invite/not-a-real-token").status_code == 410


def test_inviting_an_existing_user_adds_the_membership_without_a_link(client, login, admin,
                                                                        people):
    elsewhere = people.account(name="Elsewhere")
    colleague = people.user("member", elsewhere)
    login(admin)
    response = invite(client, colleague.email, "viewer")
    assert response.status_code == 200 and "already has a login" in response.text
    assert colleague.email in client.get("/members/").text
    duplicate = invite(client, colleague.email)
    assert duplicate.status_code == 400 and "already a member" in duplicate.text


def test_user_quota_is_enforced(client, login, admin, account, db_session):
    account.max_users = 1
    db_session.flush()
    login(admin)
    response = invite(client, "eleventh@example.com")
    assert response.status_code == 400
    assert "already has 1 of its 1 users" in response.text


def test_posted_client_account_id_is_ignored(client, login, admin, account, people,
                                             db_session):
    other = people.account(name="Other")
    login(admin)
    invite(client, "placed@example.com", client_account_id=str(other.id))
    as_account(db_session, other)
    assert db_session.scalar(select(UserAccountAssociation).where(
        UserAccountAssociation.client_account_id == other.id)) is None


def test_change_role_with_htmx_and_keep_one_admin(client, login, admin, account, people,
                                                  db_session):
    member = people.user("member", account)
    login(admin)
    token = csrf_token_from(client.get("/members/").text)
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    response = client.post(f"/members/{member.id}/role", data={"role": "viewer"},
                           headers=headers)
    assert response.status_code == 200 and response.text.startswith('<div id="member-table">')
    as_account(db_session, account)
    assert db_session.scalar(select(UserAccountAssociation.role).where(
        UserAccountAssociation.user_id == member.id)) == "viewer"
    last_admin = client.post(f"/members/{admin.id}/role", data={"role": "member"},
                             headers=headers)
    assert last_admin.status_code == 400 and "at least one admin" in last_admin.text


def test_remove_member(client, login, admin, account, people, db_session):
    member = people.user("member", account)
    login(admin)
    assert post(client, f"/members/{member.id}/remove").status_code == 302
    assert member.email not in client.get("/members/").text
    refused = post(client, f"/members/{admin.id}/remove")
    assert refused.status_code == 302  # plain form: redirect with the message flashed
    assert "at least one admin" in client.get("/members/").text


def test_other_accounts_people_are_404(client, login, admin, people):
    stranger = people.user("member", people.account(name="Theirs"))
    login(admin)
    for action in ("remove", "deactivate"):
        assert post(client, f"/members/{stranger.id}/{action}").status_code == 404
    assert post(client, f"/members/{stranger.id}/role", {"role": "viewer"}).status_code == 404


def test_deactivation_ends_the_users_sessions(app, client, login, admin, account, people):
    victim = people.user("member", account)
    victim_browser = app.test_client()
    token = csrf_token_from(victim_browser.get("/login").text)
    victim_browser.post("/login", data={"email": victim.email, "password": TEST_PASSWORD,
                                        "csrf_token": token})
    assert victim_browser.get("/").status_code == 200
    login(admin)
    assert post(client, f"/members/{victim.id}/deactivate").status_code == 302
    assert victim_browser.get("/").status_code == 302  # logged out at the next request
    token = csrf_token_from(victim_browser.get("/login").text)
    again = victim_browser.post("/login", data={"email": victim.email,
                                                "password": TEST_PASSWORD, "csrf_token": token})
    assert again.status_code == 401


def test_account_admin_cannot_deactivate_people_of_other_accounts(client, login, admin,
                                                                  account, people):
    shared = people.user("member", account)
    people_elsewhere = people.account(name="Elsewhere")
    from portal.accounts import add_member
    add_member(people.session, people_elsewhere, shared, "member")
    login(admin)
    post(client, f"/members/{shared.id}/deactivate")
    assert "also works in other accounts" in client.get("/members/").text


def test_password_change_ends_other_sessions_only(app, client, login, people, account):
    user = people.user("member", account)
    other_browser = app.test_client()
    token = csrf_token_from(other_browser.get("/login").text)
    other_browser.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                       "csrf_token": token})
    login(user)
    response = post(client, "/profile/password", {
        "current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD}, page="/profile/")
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this session goes on
    assert other_browser.get("/").status_code == 302  # the other one ended


@pytest.mark.parametrize("current, new, message", [
    ("wrong-current-password", NEW_PASSWORD, "current password is not right"),
    (TEST_PASSWORD, "short", "at least 12 characters"),
    (TEST_PASSWORD, "qwertyuiop123", "password refused"),
])
def test_password_change_refusals(client, login, people, account, current, new, message):
    login(people.user("member", account))
    response = post(client, "/profile/password", {
        "current_password": current, "new_password": new, "confirm": new}, page="/profile/")
    assert response.status_code == 400 and message in response.text


def test_defaults_decide_where_login_lands(app, client, login, people, db_session):
    first, second = people.account(name="Aardvark"), people.account(name="Zebra")
    user = people.user("member", first)
    from portal.accounts import add_member
    add_member(db_session, second, user, "viewer")
    engagement = people.engagement(second, "Zebra wave")
    login(user)
    post(client, "/accounts/switch", {"account_id": str(second.id)}, page="/accounts/")
    response = post(client, "/profile/defaults", {
        "default_client_id": str(second.id), "default_engagement_id": str(engagement.id),
        "role": "admin", "is_admin": "y"}, page="/profile/")
    assert response.status_code == 302
    fresh = app.test_client()
    token = csrf_token_from(fresh.get("/login").text)
    fresh.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                               "csrf_token": token})
    assert "Zebra" in fresh.get("/").text
    assert "Zebra wave" in fresh.get("/assets/").text
    db_session.refresh(user)
    assert user.is_admin is False  # fields the form does not offer change nothing
    assert db_session.scalar(select(UserAccountAssociation.role).where(
        UserAccountAssociation.user_id == user.id,
        UserAccountAssociation.client_account_id == second.id)) == "viewer"


def test_defaults_refuse_foreign_accounts(client, login, people, account):
    login(people.user("member", account))
    other = people.account(name="Not mine")
    response = post(client, "/profile/defaults", {"default_client_id": str(other.id)},
                    page="/profile/")
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_pages_are_for_account_admins(client, login, people, account, role):
    login(people.user(role, account))
    assert client.get("/members/").status_code == 403
    assert client.get("/members/invite").status_code == 403
