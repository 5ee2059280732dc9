"""Engagement management: creating and editing every field, optimistic locking of edits
(409 instead of a silent overwrite), htmx filtering, closing, deactivating; roles, other
tenants' engagements, and values a request must never be able to set."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm.exc import StaleDataError

from portal.db import set_tenant
from portal.engagements import (EngagementFilter, account_members, filtered_engagements,
                                new_engagement, update_engagement)
from portal.errors import DomainError
from portal.locking import EditConflict
from portal.models import Engagement
from portal.summary import engagement_summaries
from portal.web.fields import parse_tags
from tests.conftest import TEST_PASSWORD, csrf_token_from

HTMX = {"HX-Request": "true"}
CONFLICT = "Someone else saved this engagement while you were editing it"
VERSION_PATTERN = re.compile(r'name="lock_version"[^>]*value="(\d+)"')


# --- fixtures and helpers -------------------------------------------------------------------

@pytest.fixture
def account(people):
    return people.account(name="Contoso")


def act_in(session, account_id):
    """Put the test's session (back) inside an account.  Needed again after each request:
    the app's sessions share the test's connection and transaction, so a request leaves
    its own tenant settings behind on it."""
    set_tenant(session, session.info["tenant"].with_(client_id=account_id))
    return session


@pytest.fixture
def tenant_db(db_session, account):
    """The test's session acting inside `account` (to read what requests wrote)."""
    return act_in(db_session, account.id)


def someone_else_saves(session, engagement, **changes):
    """Another person's edit, saved while our form was open."""
    act_in(session, engagement.client_account_id)
    update_engagement(session, engagement, engagement.lock_version, changes)


@pytest.fixture
def member(people, account):
    return people.user("member", account)


@pytest.fixture
def engagement(people, account, tenant_db):
    return people.engagement(account, "Datacentre exit", slug="dc-exit")


def log_in(client, user):
    """Log any test client in through the real form (the `login` fixture serves `client`)."""
    page = client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 302, response.text


def valid_form(token: str, **changes) -> dict:
    form = {
        "csrf_token": token, "name": "Cloud move", "slug": "cloud-move",
        "description": "Phase one", "engagement_type": "modernization",
        "status": "planning", "priority": "high", "start_date": "2026-01-05",
        "target_completion_date": "2026-06-30", "actual_completion_date": "",
        "engagement_lead_id": "", "client_contact_name": "Dana Client",
        "client_contact_email": "dana@client.example", "target_clouds": ["aws", "azure"],
        "migration_strategies": ["rehost", "retire"],
        "excluded_systems": "mainframe, MAINFRAME\n legacy-erp ,",
        "included_environments": "prod\ndev", "business_units": "Finance",
        "geographic_scope": "EMEA, APAC"}
    form.update(changes)
    return form


def edit_form(client, engagement, **changes) -> dict:
    """The edit page's form as rendered now (its token and version), with `changes`."""
    page = client.get(f"/engagements/{engagement.id}/edit")
    assert page.status_code == 200
    form = valid_form(csrf_token_from(page.text),
                      lock_version=VERSION_PATTERN.search(page.text).group(1), **changes)
    del form["slug"]
    return form


def reload(session, engagement) -> Engagement:
    act_in(session, engagement.client_account_id).expire_all()
    return session.get(Engagement, engagement.id)


def engagement_count(session, account) -> int:
    return act_in(session, account.id).scalar(select(func.count()).select_from(Engagement)
                          .where(Engagement.client_account_id == account.id))


def by_slug(session, account, slug) -> Engagement:
    act_in(session, account.id).expire_all()
    return session.scalar(select(Engagement).where(Engagement.client_account_id == account.id,
                                                   Engagement.slug == slug))


# --- create ----------------------------------------------------------------------------------

def test_create_round_trips_every_field_and_encrypts_the_contact(client, login, people, account,
                                                                 member, tenant_db):
    lead = people.user("viewer", account)
    lead.first_name, lead.last_name = "Ada", "Lovelace"
    tenant_db.flush()
    login(member)
    token = csrf_token_from(client.get("/engagements/new").text)
    response = client.post("/engagements/new",
                           data=valid_form(token, engagement_lead_id=str(lead.id)))
    created = by_slug(tenant_db, account, "cloud-move")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/engagements/{created.id}"
    assert (created.name, created.description, created.engagement_type, created.status,
            created.priority) == ("Cloud move", "Phase one", "modernization", "planning", "high")
    assert created.start_date == datetime(2026, 1, 5, tzinfo=timezone.utc)
    assert created.target_completion_date == datetime(2026, 6, 30, tzinfo=timezone.utc)
    assert created.actual_completion_date is None
    assert (created.engagement_lead_id, created.created_by) == (lead.id, member.id)
    assert created.client_contact_email == "dana@client.example"
    assert created.migration_scope == {
        "target_clouds": ["aws", "azure"], "migration_strategies": ["rehost", "retire"],
        "excluded_systems": ["mainframe", "legacy-erp"], "included_environments": ["prod", "dev"],
        "business_units": ["Finance"], "geographic_scope": ["EMEA", "APAC"]}
    raw = act_in(tenant_db, account.id).execute(text("SELECT client_contact_email FROM engagements WHERE id = :id"),
                            {"id": created.id}).scalar_one()
    assert "dana@client.example" not in raw and raw.startswith("gAAAA")  # a Fernet token
    page = client.get(f"/engagements/{created.id}").text
    for shown in ("Engagement Cloud move created.", "dana@client.example", "Dana Client",
                  "Ada Lovelace", "legacy-erp", "EMEA", "rehost", "2026-06-30"):
        assert shown in page


def test_edit_form_shows_the_stored_values(client, login, member, engagement, tenant_db):
    engagement.start_date = datetime(2026, 2, 1, tzinfo=timezone.utc)
    engagement.migration_scope = {**engagement.migration_scope, "business_units": ["Retail", "HR"],
                                  "target_clouds": ["gcp"]}
    tenant_db.flush()
    login(member)
    page = client.get(f"/engagements/{engagement.id}/edit").text
    assert 'value="2026-02-01"' in page
    assert "Retail, HR" in page
    assert re.search(r'<input checked[^>]*value="gcp"|value="gcp"[^>]*checked', page)
    assert 'name="slug"' not in page  # the slug is chosen once, on create


@pytest.mark.parametrize("changes, message", [
    ({"target_completion_date": "2025-12-31"}, "cannot be before the start date"),
    ({"actual_completion_date": "2025-12-31"}, "cannot be before the start date"),
    ({"start_date": "05/01/2026"}, "Not a valid date value"),
    ({"slug": "Bad Slug!"}, "Use lowercase letters, digits and hyphens"),
    ({"client_contact_email": "not-an-address"}, "e-mail address like name@example.com"),
    ({"name": "  "}, "This field is required"),
    ({"status": "done-ish"}, "Not a valid choice"),
    ({"target_clouds": ["aws", "mars"]}, "is not a valid choice for this field"),
    ({"business_units": ", ".join(f"unit {n}" for n in range(101))}, "At most 100 items"),
])
def test_invalid_input_is_shown_in_the_form_with_400(client, login, member, account, tenant_db,
                                                     changes, message):
    login(member)
    token = csrf_token_from(client.get("/engagements/new").text)
    response = client.post("/engagements/new", data=valid_form(token, **changes))
    assert response.status_code == 400
    assert message in response.text
    assert 'id="engagement-form"' in response.text and "Traceback" not in response.text
    assert engagement_count(tenant_db, account) == 0


def test_lead_from_another_account_is_refused(client, login, people, member, account,
                                              tenant_db):
    outsider = people.user("member", people.account(name="Elsewhere"))
    login(member)
    token = csrf_token_from(client.get("/engagements/new").text)
    assert str(outsider.id) not in client.get("/engagements/new").text  # not offered
    response = client.post("/engagements/new",
                           data=valid_form(token, engagement_lead_id=str(outsider.id)))
    assert response.status_code == 400 and "Not a valid choice" in response.text
    assert engagement_count(tenant_db, account) == 0
    # The domain refuses it too, whatever the form does.
    with pytest.raises(DomainError, match="lead must be a member"):
        new_engagement(tenant_db, account, "direct", {"name": "Direct",
                                                      "engagement_lead_id": outsider.id})


def test_duplicate_slug_is_refused_in_the_form(client, login, member, engagement, account,
                                               tenant_db):
    login(member)
    token = csrf_token_from(client.get("/engagements/new").text)
    response = client.post("/engagements/new", data=valid_form(token, slug="dc-exit"))
    assert response.status_code == 400
    assert "engagement &#39;dc-exit&#39; already exists" in response.text
    assert engagement_count(tenant_db, account) == 1


def test_engagement_quota_refuses_one_more_with_a_clear_message(client, login, member, account,
                                                                 engagement, db_session,
                                                                 tenant_db):
    account.max_engagements = 1
    db_session.flush()
    login(member)
    token = csrf_token_from(client.get("/engagements/new").text)
    response = client.post("/engagements/new", data=valid_form(token))
    assert response.status_code == 400
    assert "Contoso already has 1 of its 1 engagements" in response.text
    assert engagement_count(tenant_db, account) == 1


# --- edit and optimistic locking -------------------------------------------------------------

def test_edit_saves_and_redirects_with_a_flash(client, login, member, engagement, tenant_db):
    login(member)
    response = client.post(f"/engagements/{engagement.id}/edit",
                           data=edit_form(client, engagement, name="Renamed", status="on_hold"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/engagements/{engagement.id}"
    saved = reload(tenant_db, engagement)
    assert (saved.name, saved.status, saved.slug) == ("Renamed", "on_hold", "dc-exit")
    assert saved.lock_version == 2
    assert "Engagement saved." in client.get(response.headers["Location"]).text


def test_edit_from_a_stale_version_is_409_and_changes_nothing(client, login, member,
                                                              engagement, tenant_db):
    login(member)
    form = edit_form(client, engagement, name="Mine")
    someone_else_saves(tenant_db, engagement, name="Theirs")
    response = client.post(f"/engagements/{engagement.id}/edit", data=form)
    assert response.status_code == 409
    assert CONFLICT in response.text and 'id="engagement-form"' in response.text
    assert 'value="Mine"' in response.text  # what the user typed is not lost
    assert reload(tenant_db, engagement).name == "Theirs"


def test_second_of_two_people_saving_the_same_version_gets_409(app, client, people, account,
                                                               member, engagement, tenant_db):
    colleague_client = app.test_client()
    log_in(client, member)
    log_in(colleague_client, people.user("member", account))
    mine = edit_form(client, engagement, name="First save")
    theirs = edit_form(colleague_client, engagement, name="Second save")
    assert mine["lock_version"] == theirs["lock_version"]
    assert client.post(f"/engagements/{engagement.id}/edit", data=mine).status_code == 302
    late = colleague_client.post(f"/engagements/{engagement.id}/edit", data=theirs)
    assert late.status_code == 409 and CONFLICT in late.text
    assert reload(tenant_db, engagement).name == "First save"


def test_htmx_edit_conflict_is_409_with_the_form_fragment(client, login, member, engagement,
                                                          tenant_db):
    login(member)
    form = edit_form(client, engagement, name="Mine")
    someone_else_saves(tenant_db, engagement, name="Theirs")
    response = client.post(f"/engagements/{engagement.id}/edit", data=form, headers=HTMX)
    assert response.status_code == 409
    assert response.text.lstrip().startswith('<div id="engagement-form">')
    assert "<html" not in response.text and CONFLICT in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_edit_success_asks_the_browser_to_load_the_page(client, login, member,
                                                             engagement, tenant_db):
    login(member)
    response = client.post(f"/engagements/{engagement.id}/edit", headers=HTMX,
                           data=edit_form(client, engagement, name="Via htmx"))
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/engagements/{engagement.id}"
    assert reload(tenant_db, engagement).name == "Via htmx"


def test_edit_without_a_version_is_refused(client, login, member, engagement, tenant_db):
    login(member)
    form = edit_form(client, engagement, name="Sneaky")
    del form["lock_version"]
    response = client.post(f"/engagements/{engagement.id}/edit", data=form)
    assert response.status_code == 400 and "no version" in response.text
    assert reload(tenant_db, engagement).name == "Datacentre exit"


def test_a_save_that_loses_a_race_after_the_check_is_409_not_500(client, login, member,
                                                                 engagement, tenant_db,
                                                                 monkeypatch):
    """Both saves passed check_version; the other one's UPDATE landed first, so ours
    matches no row at its version: StaleDataError, answered as a conflict."""
    import portal.web.engagements.routes as routes

    def racing_update(session, record, version, changes):
        session.execute(text("UPDATE engagements SET name = 'Racer', "
                             "lock_version = lock_version + 1 WHERE id = :id"),
                        {"id": record.id})
        return update_engagement(session, record, version, changes)

    monkeypatch.setattr(routes, "update_engagement", racing_update)
    login(member)
    response = client.post(f"/engagements/{engagement.id}/edit",
                           data=edit_form(client, engagement, name="Loser"))
    assert response.status_code == 409 and CONFLICT in response.text
    # Our request rolled back entirely (the simulated racer's write was in it too).
    assert reload(tenant_db, engagement).name == "Datacentre exit"


def test_domain_flush_surfaces_a_racing_save(tenant_db, engagement):
    tenant_db.execute(text("UPDATE engagements SET lock_version = lock_version + 1 "
                           "WHERE id = :id"), {"id": engagement.id})
    with pytest.raises(StaleDataError):
        update_engagement(tenant_db, engagement, engagement.lock_version, {"name": "Late"})


def test_domain_refuses_a_stale_version(tenant_db, engagement):
    with pytest.raises(EditConflict):
        update_engagement(tenant_db, engagement, engagement.lock_version - 1, {"name": "X"})
    with pytest.raises(EditConflict):
        update_engagement(tenant_db, engagement, "not-a-number", {"name": "X"})


def test_posted_identity_tenancy_and_authorship_fields_change_nothing(client, login, people,
                                                                      account, member,
                                                                      engagement, tenant_db):
    other_account = people.account(name="Fabrikam")
    stranger = people.user("admin", other_account)
    original = (engagement.id, engagement.client_account_id, engagement.created_by)
    forged = {"client_account_id": str(other_account.id), "is_active": "false",
              "created_by": str(stranger.id), "id": str(uuid.uuid4())}
    login(member)
    edited = client.post(f"/engagements/{engagement.id}/edit",
                         data=edit_form(client, engagement, name="Renamed", **forged))
    assert edited.status_code == 302
    saved = reload(tenant_db, engagement)
    assert saved.name == "Renamed" and saved.is_active is True
    assert (saved.id, saved.client_account_id, saved.created_by) == original
    token = csrf_token_from(client.get("/engagements/new").text)
    assert client.post("/engagements/new", data=valid_form(token, **forged)).status_code == 302
    created = by_slug(tenant_db, account, "cloud-move")
    assert created.client_account_id == account.id and created.created_by == member.id
    assert created.is_active is True and str(created.id) != forged["id"]


# --- list and filters ------------------------------------------------------------------------

@pytest.fixture
def portfolio(people, account, tenant_db):
    """Three engagements that differ in status, priority and type."""
    rows = {}
    for name, status, priority, kind in (("Alpha", "active", "high", "migration"),
                                         ("Bravo", "on_hold", "low", "assessment"),
                                         ("Charlie", "active", "critical", "assessment")):
        rows[name] = people.engagement(account, name)
        rows[name].status, rows[name].priority, rows[name].engagement_type = status, priority, kind
    tenant_db.flush()
    return rows


def listed(html: str, portfolio) -> set[str]:
    return {name for name, e in portfolio.items() if f"/engagements/{e.id}\"" in html}


@pytest.mark.parametrize("query, expected", [
    ("", {"Alpha", "Bravo", "Charlie"}),
    ("?status=active", {"Alpha", "Charlie"}),
    ("?priority=low", {"Bravo"}),
    ("?type=assessment", {"Bravo", "Charlie"}),
    ("?status=active&type=assessment&priority=", {"Charlie"}),
    ("?status=cancelled", set()),
])
def test_filters_return_only_matching_engagements(client, login, member, portfolio, query,
                                                  expected):
    login(member)
    page = client.get(f"/engagements/{query}")
    assert page.status_code == 200 and listed(page.text, portfolio) == expected
    if not expected:
        assert "No engagement matches these filters" in page.text


def test_htmx_filter_answers_the_table_fragment_only(client, login, member, portfolio):
    login(member)
    response = client.get("/engagements/?priority=critical", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="engagement-table">')
    assert "<html" not in response.text and 'id="engagement-filters"' not in response.text
    assert listed(response.text, portfolio) == {"Charlie"}
    assert "HX-Request" in response.headers["Vary"]
    page = client.get("/engagements/?priority=critical")
    assert 'hx-get="/engagements/"' in page.text and 'hx-target="#engagement-table"' in page.text
    assert 'hx-push-url="true"' in page.text
    assert re.search(r'<option selected value="critical"|value="critical" selected', page.text)


def test_unknown_filter_value_is_400(client, login, member, portfolio):
    login(member)
    assert client.get("/engagements/?status=everything").status_code == 400


def test_domain_filter_names_the_tenant(tenant_db, people, portfolio):
    elsewhere = people.account(name="Other")
    people.engagement(elsewhere, "Hidden")
    rows = filtered_engagements(tenant_db, elsewhere.id, EngagementFilter())
    assert rows == []  # RLS and the explicit account filter agree: nothing of another tenant


def test_account_members_are_this_accounts_active_users_by_name(tenant_db, people, account):
    zed, amy = people.user("viewer", account), people.user("member", account)
    gone = people.user("member", account)
    zed.first_name, amy.first_name, gone.is_active = "Zed", "Amy", False
    people.user("member", people.account(name="Else"))
    tenant_db.flush()
    assert [u.display_name for u in account_members(tenant_db, account.id)] == ["Amy", "Zed"]


# --- close and deactivate --------------------------------------------------------------------

def version_post(client, engagement, action, version=None, headers=None):
    token = csrf_token_from(client.get(f"/engagements/{engagement.id}").text)
    return client.post(f"/engagements/{engagement.id}/{action}", headers=headers or {},
                       data={"csrf_token": token,
                             "lock_version": version or engagement.lock_version})


def test_close_completes_and_stamps_the_completion_date(client, login, member, engagement,
                                                        tenant_db):
    login(member)
    page = client.get(f"/engagements/{engagement.id}").text
    assert f'action="/engagements/{engagement.id}/close"' in page
    response = version_post(client, engagement, "close")
    assert response.status_code == 302
    closed = reload(tenant_db, engagement)
    assert closed.status == "completed" and closed.is_active is True
    assert (datetime.now(timezone.utc) - closed.actual_completion_date).total_seconds() < 60


def test_close_keeps_an_actual_completion_date_already_set(client, login, member, engagement,
                                                           tenant_db):
    engagement.actual_completion_date = datetime(2026, 3, 1, tzinfo=timezone.utc)
    tenant_db.flush()
    login(member)
    assert version_post(client, engagement, "close").status_code == 302
    assert reload(tenant_db, engagement).actual_completion_date == \
        datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("action, role", [("close", "member"), ("deactivate", "admin")])
@pytest.mark.parametrize("htmx", [False, True])
def test_close_and_deactivate_from_a_stale_version_are_409(client, login, people, account,
                                                           engagement, tenant_db, action, role,
                                                           htmx):
    login(people.user(role, account))
    stale = engagement.lock_version
    someone_else_saves(tenant_db, engagement, name="Changed meanwhile")
    response = version_post(client, engagement, action, version=stale,
                            headers=HTMX if htmx else None)
    assert response.status_code == 409 and CONFLICT in response.text
    assert ("<html" in response.text) is not htmx
    saved = reload(tenant_db, engagement)
    assert saved.status == "active" and saved.is_active is True


def test_deactivated_engagement_leaves_lists_switchers_and_dashboard(client, login, people,
                                                                     account, engagement,
                                                                     tenant_db):
    kept = people.engagement(account, "Kept")
    login(people.user("admin", account))
    response = version_post(client, engagement, "deactivate")
    assert response.status_code == 302 and response.headers["Location"] == "/engagements/"
    assert reload(tenant_db, engagement).is_active is False
    page = client.get("/engagements/").text
    assert f"/engagements/{engagement.id}\"" not in page  # not in the table
    assert f'<option value="{engagement.id}"' not in page  # not in the switcher
    assert f'<option value="{kept.id}"' in page
    summaries = engagement_summaries(act_in(tenant_db, account.id))
    assert engagement.id not in {s.engagement_id for s in summaries}
    assert kept.id in {s.engagement_id for s in summaries}
    token = csrf_token_from(page)
    assert client.post("/engagements/switch", data={"csrf_token": token,
                       "engagement_id": str(engagement.id)}).status_code == 404
    assert version_post(client, engagement, "close").status_code == 400  # frozen now


def test_members_may_close_but_not_deactivate(client, login, member, engagement, tenant_db):
    login(member)
    assert "deactivate" not in client.get(f"/engagements/{engagement.id}").text
    assert version_post(client, engagement, "deactivate").status_code == 403
    assert reload(tenant_db, engagement).is_active is True


# --- roles, anonymity, other tenants ---------------------------------------------------------

def test_viewer_sees_no_buttons_and_gets_403_on_every_change(client, login, people, account,
                                                             engagement, tenant_db):
    login(people.user("viewer", account))
    listing = client.get("/engagements/").text
    page = client.get(f"/engagements/{engagement.id}").text
    assert "New engagement" not in listing and "/engagements/new" not in listing
    for action in ("edit", "close", "deactivate"):
        assert f"/engagements/{engagement.id}/{action}" not in page
    token = csrf_token_from(page)
    base = f"/engagements/{engagement.id}"
    form = {"csrf_token": token, "lock_version": engagement.lock_version, "name": "Viewer was here"}
    assert client.get("/engagements/new").status_code == 403
    assert client.post("/engagements/new", data=valid_form(token)).status_code == 403
    assert client.get(f"{base}/edit").status_code == 403
    for action in ("edit", "close", "deactivate"):
        assert client.post(f"{base}/{action}", data=form).status_code == 403
    saved = reload(tenant_db, engagement)
    assert (saved.name, saved.status, saved.is_active) == ("Datacentre exit", "active", True)


def test_anonymous_is_sent_to_log_in(client, engagement):
    for path in ("/engagements/new", f"/engagements/{engagement.id}/edit"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_other_tenants_engagement_is_404_exactly_like_a_missing_one(client, login, people,
                                                                    account, db_session):
    theirs = people.engagement(people.account(name="Fabrikam"), "Their secret plan")
    login(people.user("admin", account))
    token = csrf_token_from(client.get("/engagements/").text)
    post = {"csrf_token": token, "lock_version": "1", "name": "Hijacked"}
    answers = {}
    for target in (theirs.id, uuid.uuid4()):
        base = f"/engagements/{target}"
        answers[target] = [client.get(base), client.get(f"{base}/edit"),
                           *(client.post(f"{base}/{a}", data=post)
                             for a in ("edit", "close", "deactivate"))]
    for foreign, missing in zip(*answers.values(), strict=True):
        assert foreign.status_code == missing.status_code == 404
        # CSRF tokens carry a timestamp: compare the pages without them.
        assert without_tokens(foreign.text) == without_tokens(missing.text)
        assert "Their secret plan" not in foreign.text
    saved = reload(db_session, theirs)
    assert (saved.name, saved.status, saved.is_active) == ("Their secret plan", "active", True)


# --- the summary page's links ----------------------------------------------------------------

def test_summary_page_opens_the_engagements_pages_through_the_switch(client, login, member,
                                                                     engagement):
    login(member)
    page = client.get(f"/engagements/{engagement.id}").text
    for landing in ("imports.index", "flows.index", "assets.index", "assessment.index"):
        assert f'name="landing" value="{landing}"' in page
    for empty in ("No inventory imported yet", "No flows yet", "No assets yet",
                  "No 6R recommendations yet"):
        assert empty in page
    token = csrf_token_from(page)
    opened = client.post("/engagements/switch", data={
        "csrf_token": token, "engagement_id": str(engagement.id), "landing": "assets.index"})
    assert opened.status_code == 302 and opened.headers["Location"] == "/assets/"
    assert client.get("/assets/").status_code == 200
    # Once active, the same buttons are plain links.
    assert 'href="/imports/"' in client.get(f"/engagements/{engagement.id}").text


def test_switch_never_lands_on_a_url_from_the_request(client, login, member, engagement):
    login(member)
    token = csrf_token_from(client.get("/engagements/").text)
    response = client.post("/engagements/switch", data={
        "csrf_token": token, "engagement_id": str(engagement.id),
        "landing": "https://evil.example/"})
    assert response.headers["Location"] == f"/engagements/{engagement.id}"


def test_empty_list_says_what_to_do_first(client, login, people, account, member):
    login(member)
    assert "Create the first one" in client.get("/engagements/").text
    client.get("/logout")
    viewer_client = client.application.test_client()
    log_in(viewer_client, people.user("viewer", account))
    text_ = viewer_client.get("/engagements/").text
    assert "A member of this account creates engagements" in text_


# --- the tag field ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("a, b,c", ["a", "b", "c"]),
    (" prod \r\n\r\nDev\n,, prod ,PROD", ["prod", "Dev"]),
    ("", []),
    (None, []),
])
def test_tags_are_trimmed_deduplicated_and_empties_dropped(raw, expected):
    assert parse_tags(raw) == expected


def without_tokens(html: str) -> str:
    return re.sub(r'(name="csrf_token"[^>]*value=|"X-CSRFToken": )"[^"]*"', r'\1""', html)
