"""Client account administration: create, search, edit with optimistic locking, deactivate
and reactivate, the account admin's own settings, quotas, and the branding stylesheet."""
from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import object_session

from portal import client_accounts
from portal.accounts import add_member
from portal.db import set_tenant
from portal.errors import DomainError
from portal.locking import EditConflict
from portal.models import ClientAccount, Engagement
from portal.models.tenancy import AGENT_PREFERENCES_DEFAULT, BUSINESS_OBJECTIVES_DEFAULT
from tests.conftest import TEST_PASSWORD, csrf_token_from

LOCK_VERSION = re.compile(r'name="lock_version" type="hidden" value="(\d+)"')
CONFLICT = "Someone else saved this client account"
INJECTION = "red;}body{display:none"


def form_data(token: str, lock_version: str | None = None, **overrides) -> dict:
    """Every field of the platform admin's account form, filled in."""
    data = {
        "csrf_token": token, "name": "Fabrikam", "description": "Makes widgets",
        "industry": "Manufacturing", "company_size": "1,000-5,000",
        "subscription_tier": "professional", "max_users": "25", "max_engagements": "5",
        "storage_quota_gb": "500", "api_quota_monthly": "100000",
        "features": ["discovery", "assessment", "exports"],
        "branding_name": "Fabrikam Cloud", "branding_colour": "#1F6FEB",
        "primary_goals": "Exit the data centre, Cut run costs\nexit the data centre",
        "timeframe": "18 months", "success_metrics": "30% lower run cost",
        "constraints": "No downtime in December\n, ",
        "discovery_depth": "quick", "automation_level": "automatic", "risk_tolerance": "low",
        "preferred_clouds": ["azure", "aws"], "compliance_requirements": ["gdpr", "iso27001"],
    }
    if lock_version is not None:
        data["lock_version"] = lock_version
    return data | overrides


def lock_version_in(html: str) -> str:
    match = LOCK_VERSION.search(html)
    assert match, "form has no lock_version"
    return match.group(1)


def stored(db_session, account_id: uuid.UUID) -> ClientAccount:
    """The account as the database has it now.  Requests share the test's transaction and
    leave their tenant settings in it, so the operator's context is put back first."""
    set_tenant(db_session, db_session.info["tenant"])
    db_session.expire_all()
    return db_session.get(ClientAccount, account_id)


def account_table(test_client, query: str = "") -> str:
    """The accounts table alone (the htmx fragment), without the page's account switcher."""
    response = test_client.get(f"/admin/accounts{query}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.text


def log_in(test_client, user) -> None:
    page = test_client.get("/login")
    response = test_client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                                "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 302


@pytest.fixture
def platform_admin(people, login):
    admin = people.user(admin=True)
    login(admin)
    return admin


@pytest.fixture
def edit_page(client, platform_admin):
    """GET an account's edit form: (url, csrf token, lock version)."""
    def get(account):
        url = f"/admin/accounts/{account.id}/edit"
        page = client.get(url)
        assert page.status_code == 200
        return url, csrf_token_from(page.text), lock_version_in(page.text)
    return get


# --- creating and the stored shapes --------------------------------------------------------

def test_platform_admin_creates_an_account_and_every_field_lands_in_the_seed_shapes(
        client, platform_admin, db_session):
    page = client.get("/admin/accounts/new")
    assert page.status_code == 200 and 'type="color"' in page.text
    response = client.post("/admin/accounts/new",
                           data=form_data(csrf_token_from(page.text), slug="fabrikam"))
    assert response.status_code == 302 and response.headers["Location"] == "/admin/accounts"

    account_id = db_session.scalar(select(ClientAccount.id).where(
        ClientAccount.slug == "fabrikam"))
    account = stored(db_session, account_id)
    assert (account.name, account.description, account.industry, account.company_size,
            account.subscription_tier) == ("Fabrikam", "Makes widgets", "Manufacturing",
                                           "1,000-5,000", "professional")
    assert (account.max_users, account.max_engagements, account.storage_quota_gb,
            account.api_quota_monthly) == (25, 5, 500, 100000)
    assert account.created_by == platform_admin.id and account.is_active
    assert account.features_enabled == {f: f in {"discovery", "assessment", "exports"}
                                        for f in client_accounts.FEATURES}
    assert account.branding == {"name": "Fabrikam Cloud", "colour": "#1f6feb"}
    assert account.business_objectives == {
        "primary_goals": ["Exit the data centre", "Cut run costs"], "timeframe": "18 months",
        "success_metrics": ["30% lower run cost"], "constraints": ["No downtime in December"]}
    assert account.agent_preferences == {
        "discovery_depth": "quick", "automation_level": "automatic", "risk_tolerance": "low",
        "preferred_clouds": ["azure", "aws"], "compliance_requirements": ["gdpr", "iso27001"]}
    assert set(account.business_objectives) == set(json.loads(BUSINESS_OBJECTIVES_DEFAULT))
    assert set(account.agent_preferences) == set(json.loads(AGENT_PREFERENCES_DEFAULT))


def test_edit_form_shows_what_is_stored(client, people, edit_page, db_session):
    account = people.account(name="Fabrikam")
    client_accounts.update_account(db_session, account, account.lock_version, {
        "business_objectives": {"primary_goals": ["Exit the data centre", "Cut costs"]},
        "agent_preferences": {"preferred_clouds": ["gcp"]}, "max_users": 7},
        platform_admin=True)
    page = client.get(f"/admin/accounts/{account.id}/edit").text
    assert "Exit the data centre, Cut costs" in page
    assert re.search(r'id="max_users" [^>]*value="7"', page)
    assert re.search(r'value="gcp" checked|checked [^>]*value="gcp"', page)
    assert f"<code>{account.slug}</code> (cannot be changed)" in page


def test_duplicate_slug_and_invalid_input_are_400_with_the_message(client, people,
                                                                   platform_admin):
    taken = people.account(name="Taken")
    token = csrf_token_from(client.get("/admin/accounts/new").text)
    duplicate = client.post("/admin/accounts/new", data=form_data(token, slug=taken.slug))
    assert duplicate.status_code == 400 and "already exists" in duplicate.text
    invalid = client.post("/admin/accounts/new",
                          data=form_data(token, slug="ok-slug", name="", max_users="-1"))
    assert invalid.status_code == 400
    assert "This field is required." in invalid.text
    assert "Number must be between 0 and" in invalid.text


# --- search --------------------------------------------------------------------------------

def test_search_finds_by_name_slug_and_industry_and_hides_deactivated(client, people,
                                                                      platform_admin,
                                                                      db_session):
    people.account("north-wind", name="Northwind Traders")
    contoso = people.account("contoso", name="Contoso")
    contoso.industry = "Healthcare"
    closed = people.account("closed-north", name="Closed North")
    client_accounts.deactivate_account(db_session, closed, closed.lock_version)

    by_name = account_table(client, "?q=northWIND")
    assert "Northwind Traders" in by_name and "Contoso" not in by_name
    assert "Northwind Traders" in account_table(client, "?q=north-wi")  # the slug
    by_industry = account_table(client, "?q=health")
    assert "Contoso" in by_industry and "Northwind" not in by_industry
    assert "Closed North" not in account_table(client, "?q=north")
    assert "Closed North" in client.get("/admin/accounts?q=north&inactive=1").text
    with_inactive = account_table(client, "?q=north&inactive=1")
    assert "Closed North" in with_inactive and "Northwind Traders" in with_inactive
    assert "deactivated" in with_inactive


def test_search_wildcards_are_taken_literally(people, db_session):
    people.account(name="Alpha_Beta")
    people.account(name="AlphaXBeta")
    people.account(name="100% Cloud")
    people.account(name="1000 Clouds")
    names = lambda query: [a.name for a in client_accounts.search_accounts(  # noqa: E731
        db_session, query) if a.name[0] in "A1"]
    assert names("a_b") == ["Alpha_Beta"]
    assert names("%") == ["100% Cloud"]
    assert names("0%") == ["100% Cloud"]
    assert "AlphaXBeta" in names("alpha")


def test_live_search_answers_htmx_with_the_table_fragment(client, people, platform_admin):
    people.account(name="Northwind Traders")
    page = client.get("/admin/accounts")
    assert 'hx-trigger="input changed delay:300ms, search"' in page.text
    assert 'hx-target="#account-table"' in page.text
    fragment = client.get("/admin/accounts?q=northwind", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert fragment.text.lstrip().startswith('<div id="account-table">')
    assert "<html" not in fragment.text and "Northwind Traders" in fragment.text
    assert "No account matches" in client.get("/admin/accounts?q=zzz-none",
                                              headers={"HX-Request": "true"}).text


def test_admin_index_links_to_account_management(client, platform_admin):
    assert 'href="/admin/accounts"' in client.get("/admin/").text


# --- deactivation --------------------------------------------------------------------------

def test_deactivated_account_leaves_switchers_and_lists_but_keeps_its_data(
        app, client, people, platform_admin, db_session):
    account = people.account(name="Wingtip Toys")
    member = people.user("member", account)
    engagement_id = people.engagement(account, "Wingtip migration").id
    page = client.get("/admin/accounts")
    token = csrf_token_from(page.text)
    response = client.post(f"/admin/accounts/{account.id}/deactivate",
                           data={"csrf_token": token, "lock_version": account.lock_version})
    assert response.status_code == 302
    assert "Wingtip Toys is deactivated" in client.get(response.headers["Location"]).text
    assert stored(db_session, account.id).is_active is False
    assert "Wingtip Toys" not in account_table(client)
    assert "Wingtip Toys" not in client.get("/accounts/").text  # the admin's switcher

    member_client = app.test_client()
    log_in(member_client, member)
    assert "Wingtip Toys" not in member_client.get("/accounts/").text
    switch_token = csrf_token_from(member_client.get("/accounts/").text)
    assert member_client.post("/accounts/switch", data={
        "account_id": str(account.id), "csrf_token": switch_token}).status_code == 404
    operator = db_session.info["tenant"]
    set_tenant(db_session, operator.with_(client_id=account.id))  # the data is still there
    assert db_session.scalar(select(func.count()).select_from(Engagement).where(
        Engagement.client_account_id == account.id, Engagement.id == engagement_id)) == 1
    set_tenant(db_session, operator)

    version = stored(db_session, account.id).lock_version
    assert client.post(f"/admin/accounts/{account.id}/reactivate",
                       data={"csrf_token": token, "lock_version": version}).status_code == 302
    assert "Wingtip Toys" in member_client.get("/accounts/").text


def test_deactivating_from_a_stale_list_is_a_conflict(client, people, platform_admin,
                                                      db_session):
    account = people.account(name="Stale")
    token = csrf_token_from(client.get("/admin/accounts").text)
    response = client.post(f"/admin/accounts/{account.id}/deactivate",
                           data={"csrf_token": token, "lock_version": account.lock_version - 1})
    assert response.status_code == 409 and CONFLICT in response.text
    assert stored(db_session, account.id).is_active is True


# --- optimistic locking --------------------------------------------------------------------

@pytest.mark.parametrize("htmx", [False, True])
def test_stale_lock_version_is_409_and_changes_nothing(client, people, edit_page, db_session,
                                                       htmx):
    account = people.account(name="Original")
    url, token, version = edit_page(account)
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(url, data=form_data(token, str(int(version) - 1), name="Overwrite"),
                           headers=headers)
    assert response.status_code == 409 and CONFLICT in response.text
    assert 'id="account-form"' in response.text and 'value="Overwrite"' in response.text
    assert ("<html" in response.text) is not htmx
    assert stored(db_session, account.id).name == "Original"
    missing = client.post(url, data=form_data(token, name="No version"))
    assert missing.status_code == 409  # a form without its version never overwrites


def test_two_people_editing_the_same_account_second_save_conflicts(client, people, edit_page,
                                                                  db_session):
    account = people.account(name="Shared")
    url, token, first_version = edit_page(account)
    _, _, second_version = edit_page(account)
    first = client.post(url, data=form_data(token, first_version, name="First edit"))
    assert first.status_code == 302
    second = client.post(url, data=form_data(token, second_version, name="Second edit"))
    assert second.status_code == 409 and CONFLICT in second.text
    assert stored(db_session, account.id).name == "First edit"


def test_a_save_racing_past_the_version_check_is_a_conflict(people, db_session):
    account = people.account(name="Raced")
    seen_version = account.lock_version
    # Another transaction saves between our check and our UPDATE (behind the ORM's back).
    db_session.execute(text("UPDATE client_accounts SET lock_version = lock_version + 1 "
                            "WHERE id = :id"), {"id": account.id})
    with pytest.raises(EditConflict):
        client_accounts.update_account(db_session, account, seen_version, {"name": "Mine"},
                                       platform_admin=True)


def test_a_race_lost_inside_the_update_still_answers_409_with_the_page(
        client, people, edit_page, db_session, monkeypatch):
    account = people.account(name="Raced page")
    url, token, version = edit_page(account)
    list_token = csrf_token_from(client.get("/admin/accounts").text)

    def other_save_lands_after_the_check(record, submitted_version, what):
        object_session(record).execute(text(
            "UPDATE client_accounts SET lock_version = lock_version + 1 WHERE id = :id"),
            {"id": record.id})
    monkeypatch.setattr(client_accounts, "check_version", other_save_lands_after_the_check)
    edit = client.post(url, data=form_data(token, version, name="Lost"))
    assert edit.status_code == 409 and CONFLICT in edit.text and 'id="account-form"' in edit.text
    deactivate = client.post(f"/admin/accounts/{account.id}/deactivate",
                             data={"csrf_token": list_token, "lock_version": version})
    assert deactivate.status_code == 409 and 'id="context-bar"' in deactivate.text
    saved = stored(db_session, account.id)
    assert (saved.name, saved.is_active) == ("Raced page", True)


# --- the account admin's own settings ------------------------------------------------------

def test_account_admin_edits_own_settings_but_not_the_platform_fields(client, people, login,
                                                                      db_session):
    account = people.account(name="Tailspin")
    original_slug = account.slug
    login(people.user("admin", account))
    page = client.get("/account/settings")
    assert page.status_code == 200
    assert 'name="subscription_tier"' not in page.text and 'name="max_users"' not in page.text
    response = client.post("/account/settings", data=form_data(
        csrf_token_from(page.text), lock_version_in(page.text), name="Tailspin Toys",
        subscription_tier="enterprise", max_users="999", slug="stolen",
        features=list(client_accounts.FEATURES)))
    assert response.status_code == 302
    saved = stored(db_session, account.id)
    assert saved.name == "Tailspin Toys" and saved.branding["colour"] == "#1f6feb"
    assert saved.agent_preferences["risk_tolerance"] == "low"
    assert (saved.subscription_tier, saved.max_users, saved.slug) == \
        ("standard", None, original_slug)
    assert not saved.features_enabled


def test_update_account_refuses_platform_fields_to_account_admins(people, db_session):
    account = people.account(name="Domain")
    client_accounts.update_account(
        db_session, account, account.lock_version,
        {"name": "Renamed", "subscription_tier": "enterprise", "max_users": 1,
         "features_enabled": {"exports": True}}, platform_admin=False)
    saved = stored(db_session, account.id)
    assert saved.name == "Renamed"
    assert (saved.subscription_tier, saved.max_users) == ("standard", None)
    assert not saved.features_enabled


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_cannot_open_account_settings(client, people, login, role,
                                                          db_session):
    account = people.account(name="Locked")
    login(people.user(role, account))
    assert client.get("/account/settings").status_code == 403
    token = csrf_token_from(client.get("/accounts/").text)
    posted = client.post("/account/settings", data=form_data(token, str(account.lock_version)))
    assert posted.status_code == 403
    assert stored(db_session, account.id).name == "Locked"


def test_account_settings_only_ever_edit_the_active_account(client, people, login,
                                                            db_session):
    mine, other = people.account(name="A first"), people.account(name="B second")
    admin = people.user("admin", mine)
    add_member(db_session, other, admin, "admin")
    login(admin)  # lands in the first account by name
    page = client.get("/account/settings")
    assert 'value="A first"' in page.text
    assert client.post("/account/settings", data=form_data(
        csrf_token_from(page.text), lock_version_in(page.text), name="Edited")).status_code == 302
    assert stored(db_session, mine.id).name == "Edited"
    assert stored(db_session, other.id).name == "B second"


@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
def test_admin_account_routes_are_for_platform_admins_only(client, people, login, role,
                                                           db_session):
    account = people.account(name="Guarded")
    login(people.user(role, account))
    token = csrf_token_from(client.get("/accounts/").text)
    base = f"/admin/accounts/{account.id}"
    for path in ("/admin/accounts", "/admin/accounts/new", f"{base}/edit"):
        assert client.get(path).status_code == 403, path
    for path in ("/admin/accounts/new", f"{base}/edit", f"{base}/deactivate",
                 f"{base}/reactivate"):
        response = client.post(path, data=form_data(token, str(account.lock_version),
                                                    slug="sneaky"))
        assert response.status_code == 403, path
    saved = stored(db_session, account.id)
    assert (saved.name, saved.is_active) == ("Guarded", True)


def test_anonymous_visitors_are_sent_to_log_in(client, people):
    account = people.account()
    for path in ("/admin/accounts", f"/admin/accounts/{account.id}/edit",
                 "/account/settings", "/branding.css"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_account_is_404(client, platform_admin):
    assert client.get(f"/admin/accounts/{uuid.uuid4()}/edit").status_code == 404


# --- quotas --------------------------------------------------------------------------------

def test_max_users_set_in_the_form_is_enforced(client, people, edit_page, db_session):
    account = people.account(name="Small Co")
    people.user("member", account)
    people.user("viewer", account)
    url, token, version = edit_page(account)
    assert client.post(url, data=form_data(token, version, name="Small Co",
                                           max_users="2")).status_code == 302
    third = people.user()
    with pytest.raises(DomainError, match="Small Co already has 2 of its 2 users"):
        add_member(db_session, stored(db_session, account.id), third, "member")


# --- branding ------------------------------------------------------------------------------

def test_branding_colour_and_name_reach_the_header(client, people, edit_page, db_session):
    account = people.account(name="Branded")
    url, token, version = edit_page(account)
    client.post(url, data=form_data(token, version, branding_colour="#0A7D3E",
                                    branding_name="Branded Cloud"))
    token = csrf_token_from(client.get("/accounts/").text)
    client.post("/accounts/switch", data={"account_id": str(account.id), "csrf_token": token})
    version = stored(db_session, account.id).lock_version
    page = client.get("/engagements/").text
    assert f'href="/branding.css?account={account.id}&amp;v={version}"' in page
    assert 'id="context-brand">Branded Cloud<' in page
    css = client.get(f"/branding.css?account={account.id}&v={version}")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert css.headers["Cache-Control"] == "private, max-age=300"
    assert ".portal-nav.navbar { background-color: #0a7d3e !important; }" in css.text
    other = client.get(f"/branding.css?account={uuid.uuid4()}")
    assert "#0a7d3e" not in other.text and other.headers["Cache-Control"] == "no-store"


def test_account_without_branding_gets_an_empty_stylesheet(client, people, login):
    account = people.account(name="Plain")
    login(people.user("viewer", account))
    css = client.get("/branding.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "{" not in css.text and css.text.startswith("/*")
    assert 'id="context-brand">Plain<' in client.get("/accounts/").text


def test_css_injection_in_the_colour_is_refused_and_never_written(client, people, edit_page,
                                                                  db_session):
    account = people.account(name="Careful")
    url, token, version = edit_page(account)
    response = client.post(url, data=form_data(token, version, branding_colour=INJECTION))
    assert response.status_code == 400 and "#rrggbb" in response.text
    assert not stored(db_session, account.id).branding
    with pytest.raises(DomainError, match="invalid colour"):
        client_accounts.update_account(db_session, account, account.lock_version,
                                       {"branding": {"colour": "#123456\n}body{x:y"}},
                                       platform_admin=True)
    # Even a colour stored by other means is checked again before it becomes CSS.
    assert "display" not in client_accounts.branding_stylesheet({"colour": INJECTION})
