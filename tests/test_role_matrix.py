"""Every route of the people side of the portal, for every kind of visitor, with the exact
status each must get.  Each request runs in its own savepoint, rolled back afterwards, so
one route's changes never decide another's status."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from portal.accounts import add_member, create_user
from portal.db import set_tenant
from portal.members import issue_invitation
from tests.conftest import csrf_token_from

ROLES = ["anonymous", "viewer", "member", "admin", "platform", "outsider"]


@dataclass
class World:
    account: object
    engagement: object
    target: object  # a member of the account whom admins act on
    pending: object  # invited, no password yet


@pytest.fixture
def world(people, db_session) -> World:
    account = people.account(name="Target Co")
    engagement = people.engagement(account, "Target migration")
    target = people.user("member", account)
    pending = create_user(db_session, "pending@example.com", None)
    add_member(db_session, account, pending, "member")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    issue_invitation(db_session, account, pending, None)
    return World(account, engagement, target, pending)


@pytest.fixture
def visitor(request, people, login, client, world, db_session):
    """The test client logged in as the role under test, working in the target account
    (the outsider works in an account of its own)."""
    role = request.param
    if role == "anonymous":
        return role
    if role == "platform":
        user = people.user(admin=True)
    elif role == "outsider":
        user = people.user("admin", people.account(name="Elsewhere"))
    else:
        user = people.user(role, world.account)
    login(user)
    if role == "platform":
        token = csrf_token_from(client.get("/accounts/").text)
        client.post("/accounts/switch", data={"account_id": str(world.account.id),
                                              "csrf_token": token})
    return role


def routes(w: World):
    """(method, path, form data, expected status per role in ROLES order)."""
    e, t, p, a = w.engagement.id, w.target.id, w.pending.id, w.account.id
    engagement_form = {"name": "Renamed", "engagement_type": "migration", "status": "active",
                       "priority": "high", "engagement_lead_id": "", "lock_version": "1"}
    new_engagement = engagement_form | {"name": "New one", "slug": "new-one"}
    account_form = {"name": "Renamed Co", "subscription_tier": "standard",
                    "discovery_depth": "comprehensive", "automation_level": "assisted",
                    "risk_tolerance": "moderate", "branding_colour": "#123456",
                    "industry": "", "company_size": "",
                    "lock_version": "1"}
    version = {"lock_version": "1"}
    return [
        ("GET", "/", None, [302, 200, 200, 200, 200, 200]),
        ("GET", "/accounts/", None, [302, 200, 200, 200, 200, 200]),
        ("POST", "/accounts/switch", {"account_id": str(a)}, [302, 302, 302, 302, 302, 404]),
        ("GET", "/engagements/", None, [302, 200, 200, 200, 200, 200]),
        ("GET", f"/engagements/{e}", None, [302, 200, 200, 200, 200, 404]),
        ("GET", f"/engagements/{e}/dashboard", None, [302, 200, 200, 200, 200, 404]),
        ("GET", "/engagements/new", None, [302, 403, 200, 200, 200, 200]),
        ("POST", "/engagements/new", new_engagement, [302, 403, 302, 302, 302, 302]),
        ("GET", f"/engagements/{e}/edit", None, [302, 403, 200, 200, 200, 404]),
        ("POST", f"/engagements/{e}/edit", engagement_form, [302, 403, 302, 302, 302, 404]),
        ("POST", f"/engagements/{e}/close", version, [302, 403, 302, 302, 302, 404]),
        ("POST", f"/engagements/{e}/deactivate", version, [302, 403, 403, 302, 302, 404]),
        ("POST", "/engagements/switch", {"engagement_id": str(e)},
         [302, 302, 302, 302, 302, 404]),
        ("GET", "/members/", None, [302, 403, 403, 200, 200, 200]),
        ("GET", "/members/invite", None, [302, 403, 403, 200, 200, 200]),
        ("POST", "/members/invite", {"email": "fresh@example.com", "role": "viewer"},
         [302, 403, 403, 200, 200, 200]),
        ("POST", f"/members/{t}/role", {"role": "viewer"}, [302, 403, 403, 302, 302, 404]),
        ("POST", f"/members/{t}/remove", None, [302, 403, 403, 302, 302, 404]),
        ("POST", f"/members/{t}/deactivate", None, [302, 403, 403, 302, 302, 404]),
        ("POST", f"/members/{p}/invitation", None, [302, 403, 403, 200, 200, 404]),
        ("GET", "/profile/", None, [302, 200, 200, 200, 200, 200]),
        ("POST", "/profile/defaults", {"default_client_id": "", "default_engagement_id": ""},
         [302, 302, 302, 302, 302, 302]),
        ("GET", "/audit/", None, [302, 403, 403, 200, 200, 200]),
        ("GET", "/account/settings", None, [302, 403, 403, 200, 200, 200]),
        ("POST", "/account/settings", account_form | {"lock_version": "{own_version}"},
         [302, 403, 403, 302, 302, 302]),
        ("GET", "/branding.css", None, [302, 200, 200, 200, 200, 200]),
        ("GET", "/admin/", None, [302, 403, 403, 403, 200, 403]),
        ("GET", "/admin/accounts", None, [302, 403, 403, 403, 200, 403]),
        ("GET", "/admin/accounts/new", None, [302, 403, 403, 403, 200, 403]),
        ("POST", "/admin/accounts/new", account_form | {"slug": "brand-new"},
         [302, 403, 403, 403, 302, 403]),
        ("GET", f"/admin/accounts/{a}/edit", None, [302, 403, 403, 403, 200, 403]),
        ("POST", f"/admin/accounts/{a}/edit", account_form, [302, 403, 403, 403, 302, 403]),
        ("POST", f"/admin/accounts/{a}/deactivate", version, [302, 403, 403, 403, 302, 403]),
        ("POST", f"/admin/accounts/{a}/reactivate", version, [302, 403, 403, 403, 302, 403]),
        ("POST", "/logout", None, [302, 302, 302, 302, 302, 302]),
    ]


@pytest.mark.parametrize("visitor", ROLES, indirect=True)
def test_route_role_matrix(visitor, client, world, db_connection, db_session):
    column = ROLES.index(visitor)
    token = csrf_token_from(client.get("/login").text) if visitor == "anonymous" else \
        csrf_token_from(client.get("/profile/").text)
    with client.session_transaction() as saved:
        session_state = dict(saved)
    mismatches = []
    for method, path, data, expected in routes(world):
        form = dict(data or {})
        if form.get("lock_version") == "{own_version}":
            form["lock_version"] = str(_own_account_version(client))
        savepoint = db_connection.begin_nested()
        try:
            response = client.open(path, method=method,
                                   data=({"csrf_token": token} | form) if method == "POST"
                                   else None)
            if response.status_code != expected[column]:
                mismatches.append((method, path, response.status_code, expected[column]))
        finally:
            savepoint.rollback()
            with client.session_transaction() as current:
                current.clear()
                current.update(session_state)
    assert mismatches == [], f"{visitor}: (method, path, got, expected) {mismatches}"


def _own_account_version(client) -> int:
    """The version the active account's settings form was rendered from (1 if none)."""
    page = client.get("/account/settings")
    match = re.search(r'name="lock_version" type="hidden" value="(\d+)"', page.text) or \
        re.search(r'id="lock_version" name="lock_version" type="hidden" value="(\d+)"',
                  page.text)
    return int(match.group(1)) if match else 1
