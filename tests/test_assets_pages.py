"""The asset inventory over HTTP: the list (filters, search, htmx fragment, sorting, keyset
Previous/Next), the asset page, editing under optimistic locking (two people, htmx 409),
CSV/XLSX exports that cannot run formulas, roles, anonymous visitors and other tenants."""
from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from portal import inventory
from portal.db import set_tenant
from portal.models import Asset
from tests.conftest import csrf_token_from

HTMX = {"HX-Request": "true"}
CONFLICT = "Someone else saved this asset"
EVIL = '=HYPERLINK("http://evil.example","click me")'
ASSET_LINK = re.compile(r'href="/assets/([0-9a-f-]{36})"')


def fleet_records() -> list[dict]:
    """61 assets: 60 numbered servers in two environments, one named like a formula."""
    records = [{"name": f"srv-{i:03d}", "hostname": f"srv-{i:03d}.corp.example",
                "ip_address": f"10.0.{i // 100}.{i % 100}", "os_name": ["RHEL", "Ubuntu"][i % 2],
                "environment": ["production", "dev"][i % 3 == 0], "memory_gb": 4 * (1 + i % 5),
                "cpu_cores": 2, "asset_type": "server", "application": f"app-{i % 4}",
                "depends_on": ["srv-000"] if i else None, "_extra": {"Rack": f"R{i}"}}
               for i in range(60)]
    return records + [{"name": EVIL, "environment": "production", "os_name": EVIL}]


@pytest.fixture
def tenant(people, db_session):
    account = people.account(name="Fleet owner")
    engagement = people.engagement(account, "Wave 1")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    inventory.upsert_assets(db_session, account.id, engagement.id, fleet_records(),
                            import_id=None, discovery_flow_id=None)
    return account, engagement


def work_in(client, engagement) -> None:
    token = csrf_token_from(client.get("/engagements/").text)
    response = client.post("/engagements/switch", data={"engagement_id": str(engagement.id),
                                                        "csrf_token": token})
    assert response.status_code == 302


@pytest.fixture
def member(people, tenant, login, client):
    """A member of the account, logged in and working in its engagement."""
    user = people.user("member", tenant[0])
    login(user)
    work_in(client, tenant[1])
    return user


def asset(db_session, tenant, key: str) -> Asset:
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=tenant[0].id))
    found = db_session.scalar(select(Asset).where(Asset.client_account_id == tenant[0].id,
                                                  Asset.asset_key == key))
    db_session.refresh(found)
    return found


def listed_ids(html: str) -> list[str]:
    return ASSET_LINK.findall(html)


def names_in(html: str) -> list[str]:
    return re.findall(r'class="fw-semibold" href="/assets/[^"]+">([^<]+)</a>', html)


def link(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    assert match, f"no #{element_id} link"
    return match.group(1).replace("&amp;", "&")


# --- the list -----------------------------------------------------------------------------
def test_list_pages_forward_and_back_by_keyset(client, member):
    first = client.get("/assets/")
    assert first.status_code == 200 and 'id="asset-filters"' in first.text
    page1 = listed_ids(first.text)
    assert len(page1) == 50 and 'id="asset-prev"' not in first.text
    second = client.get(link(first.text, "asset-next"))
    page2 = listed_ids(second.text)
    assert len(page2) == 11 and not set(page1) & set(page2)  # 61 assets, none twice
    assert "End of the list." in second.text
    back = client.get(link(second.text, "asset-prev"))
    assert listed_ids(back.text) == page1


@pytest.mark.parametrize("query, expected", [
    ("env=dev", {f"srv-{i:03d}" for i in range(0, 60, 3)}),
    ("q=srv-05", {f"srv-{i:03d}" for i in range(50, 60)}),         # name prefix
    ("q=SRV-012.CORP", {"srv-012"}),                               # hostname prefix
    ("q=10.0.0.4", {"srv-004"} | {f"srv-{i:03d}" for i in range(40, 50)}),  # IP prefix
    ("env=dev&os=RHEL", {f"srv-{i:03d}" for i in range(0, 60, 6)}),
    ("app=app-1&os=Ubuntu", {f"srv-{i:03d}" for i in range(1, 60, 4)}),
    ("q=nothing-here", set()),
])
def test_filters_and_search(client, member, query, expected):
    response = client.get(f"/assets/?{query}")
    assert response.status_code == 200
    assert set(names_in(response.text)) == expected
    if not expected:
        assert "No asset matches these filters" in response.text


def test_htmx_gets_the_table_fragment_with_a_tidy_url(client, member):
    response = client.get("/assets/?q=&type=&env=dev&os=&sort=-memory", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="asset-table">')
    assert "<html" not in response.text and 'id="asset-filters"' not in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["HX-Push-Url"] == "/assets/?env=dev&sort=-memory"
    full = client.get("/assets/?env=dev")
    assert "<html" in full.text and 'id="asset-table"' in full.text


def test_sorting_and_the_heading_that_reverses_it(client, member, db_session, tenant):
    response = client.get("/assets/?sort=memory&env=production")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=tenant[0].id))
    memory = dict(db_session.execute(select(Asset.id, Asset.memory_gb)).all())
    memories = [memory[uuid.UUID(i)] for i in listed_ids(response.text)]
    assert len(memories) == 41 and memories[-1] is None  # unknown memory last ascending
    assert memories[:-1] == sorted(memories[:-1])
    assert 'aria-sort="ascending"' in response.text
    assert "/assets/?env=production&amp;sort=-memory" in response.text  # click: descending
    down = client.get("/assets/?sort=-memory&env=production")
    assert 'aria-sort="descending"' in down.text
    assert memory[uuid.UUID(listed_ids(down.text)[0])] is None  # and first descending


@pytest.mark.parametrize("query", ["sort=password", "after=not-a-cursor",
                                   "sort=cpu&after=" + "A" * 40])
def test_bad_sort_or_tampered_page_link_is_400_in_place(client, member, query):
    response = client.get(f"/assets/?{query}")
    assert response.status_code == 400
    assert 'id="asset-problem"' in response.text and 'id="asset-filters"' in response.text
    assert not listed_ids(response.text)
    fragment = client.get(f"/assets/?{query}", headers=HTMX)  # htmx swaps it in place
    assert fragment.status_code == 400
    assert fragment.text.lstrip().startswith('<div id="asset-table">')
    assert fragment.headers["HX-Push-Url"] == "false"


def test_a_page_link_made_for_another_sort_is_refused(client, member):
    first = client.get("/assets/?sort=cpu")
    after = re.search(r"after=([^\"&]+)", link(first.text, "asset-next")).group(1)
    response = client.get(f"/assets/?sort=memory&after={after}")
    assert response.status_code == 400 and "page link is invalid" in response.text


# --- one asset ----------------------------------------------------------------------------
def test_asset_page_shows_everything_known(client, member, db_session, tenant):
    hub = asset(db_session, tenant, "srv-000")
    web = asset(db_session, tenant, "srv-007")
    db_session.execute(text("UPDATE assets SET migration_readiness = :m WHERE id = :id"), {
        "m": '{"tech_debt": {"status": "unsupported", "score": 87, "product": "RHEL",'
             ' "version": "6", "end_of_life": "2020-11-30", "reasons": ["RHEL 6 is out of'
             ' support"]}}', "id": web.id})
    page = client.get(f"/assets/{web.id}")
    assert page.status_code == 200
    assert "srv-007.corp.example" in page.text and "R7" in page.text  # spec + source column
    assert re.search(r'id="asset-upstream">\s*<li><a href="/assets/' + str(hub.id), page.text)
    assert "RHEL 6 is out of support" in page.text and "2020-11-30" in page.text
    hub_page = client.get(f"/assets/{hub.id}")
    downstream = hub_page.text.split('id="asset-downstream"')[1].split("</ul>")[0]
    assert len(listed_ids(downstream)) == 59  # every other server depends on it
    assert "Created." in hub_page.text  # the history, from the audit log


# --- editing ------------------------------------------------------------------------------
def edit_form(client, asset_id, **changes) -> dict:
    page = client.get(f"/assets/{asset_id}/edit")
    assert page.status_code == 200
    version = re.search(r'name="lock_version" type="hidden" value="(\d+)"', page.text).group(1)
    data = {"csrf_token": csrf_token_from(page.text), "lock_version": version,
            "asset_type": "server", "environment": "production", "application": "app-3",
            "owner": "", "business_criticality": "", "description": "", "tags": ""}
    return data | changes


def test_member_edits_and_history_records_it(client, member, db_session, tenant):
    target = asset(db_session, tenant, "srv-007")
    response = client.post(f"/assets/{target.id}/edit", data=edit_form(
        client, target.id, owner="ops@example.com", business_criticality="high",
        tags="pci, web"))
    assert response.status_code == 302 and response.location == f"/assets/{target.id}"
    saved = asset(db_session, tenant, "srv-007")
    assert saved.specifications["owner"] == "ops@example.com"
    assert saved.specifications["tags"] == ["pci", "web"] and saved.criticality_rank == 3
    assert saved.lock_version == 2 and saved.asset_name == "srv-007"
    history = client.get(f"/assets/{target.id}").text.split('id="asset-history"')[1]
    assert "specifications.owner" in history and "ops@example.com" in history


def test_second_of_two_people_saving_the_same_version_gets_409(app, client, member, people,
                                                               login, db_session, tenant):
    target = asset(db_session, tenant, "srv-007")
    colleague = app.test_client()
    page = colleague.get("/login")
    colleague.post("/login", data={"email": people.user("member", tenant[0]).email,
                                   "password": "correct horse battery staple",
                                   "csrf_token": csrf_token_from(page.text)})
    work_in(colleague, tenant[1])
    mine = edit_form(client, target.id, owner="first")
    theirs = edit_form(colleague, target.id, owner="second")
    assert client.post(f"/assets/{target.id}/edit", data=mine).status_code == 302
    late = colleague.post(f"/assets/{target.id}/edit", data=theirs)
    assert late.status_code == 409 and CONFLICT in late.text
    assert 'value="second"' in late.text  # what they typed is not lost
    assert asset(db_session, tenant, "srv-007").specifications["owner"] == "first"


def test_htmx_conflict_is_409_with_the_form_fragment(client, member, db_session, tenant):
    target = asset(db_session, tenant, "srv-007")
    form = edit_form(client, target.id, owner="mine")
    inventory.upsert_assets(db_session, tenant[0].id, tenant[1].id,
                            [dict(fleet_records()[7], cpu_cores=64)], import_id=None,
                            discovery_flow_id=None)  # a re-import lands meanwhile
    response = client.post(f"/assets/{target.id}/edit", data=form, headers=HTMX)
    assert response.status_code == 409
    assert response.text.lstrip().startswith('<div id="asset-form">')
    assert "<html" not in response.text and CONFLICT in response.text
    assert "owner" not in asset(db_session, tenant, "srv-007").specifications


def test_htmx_save_asks_the_browser_to_load_the_asset_page(client, member, db_session, tenant):
    target = asset(db_session, tenant, "srv-007")
    response = client.post(f"/assets/{target.id}/edit", headers=HTMX,
                           data=edit_form(client, target.id, owner="via htmx"))
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/assets/{target.id}"


def test_invalid_edit_is_400_and_changes_nothing(client, member, db_session, tenant):
    target = asset(db_session, tenant, "srv-007")
    form = edit_form(client, target.id, owner="x" * 300)
    response = client.post(f"/assets/{target.id}/edit", data=form)
    assert response.status_code == 400 and "is-invalid" in response.text
    del form["lock_version"]
    assert client.post(f"/assets/{target.id}/edit", data=form).status_code == 400
    assert asset(db_session, tenant, "srv-007").lock_version == 1


# --- exports ------------------------------------------------------------------------------
def test_csv_export_is_the_filtered_list_with_formulas_neutralised(client, member):
    response = client.get("/assets/export.csv?env=production&sort=-name")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["name", "hostname", "fqdn"]
    names = [row[0] for row in body]
    assert len(names) == 41 and "srv-003" not in names  # dev servers are not exported
    assert names == sorted(names, reverse=True)  # the list's order
    evil = next(row for row in body if "HYPERLINK" in row[0])
    assert evil[0] == "'" + EVIL and evil[header.index("os_name")] == "'" + EVIL


def test_xlsx_export_has_no_formula_cells(client, member):
    response = client.get("/assets/export.xlsx?q=%3D")  # search: names starting with "="
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "name" and len(rows) == 2
    assert rows[1][0] == "'" + EVIL
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


# --- who may do what ----------------------------------------------------------------------
def test_viewer_reads_but_cannot_edit(client, people, login, db_session, tenant):
    viewer = people.user("viewer", tenant[0])
    target = asset(db_session, tenant, "srv-007")
    login(viewer)
    work_in(client, tenant[1])
    assert client.get("/assets/").status_code == 200
    page = client.get(f"/assets/{target.id}")
    assert page.status_code == 200 and 'id="asset-edit"' not in page.text
    assert client.get("/assets/export.csv").status_code == 200
    assert client.get(f"/assets/{target.id}/edit").status_code == 403
    token = csrf_token_from(page.text)
    refused = client.post(f"/assets/{target.id}/edit",
                          data={"csrf_token": token, "lock_version": "1", "owner": "me"})
    assert refused.status_code == 403
    assert "owner" not in asset(db_session, tenant, "srv-007").specifications


def test_anonymous_visitors_are_sent_to_log_in(client, db_session, tenant):
    target = asset(db_session, tenant, "srv-007")
    for path in ("/assets/", f"/assets/{target.id}", f"/assets/{target.id}/edit",
                 "/assets/export.csv", "/assets/export.xlsx"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location, path


def test_another_tenants_asset_is_404_like_a_missing_one(client, people, login, db_session,
                                                         tenant):
    target = asset(db_session, tenant, "srv-007")
    stranger_account = people.account(name="Stranger")
    stranger_engagement = people.engagement(stranger_account, "Theirs")
    login(people.user("admin", stranger_account))
    work_in(client, stranger_engagement)
    for path in (f"/assets/{target.id}", f"/assets/{target.id}/edit",
                 f"/assets/{uuid.uuid4()}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "srv-007" not in response.text
    assert names_in(client.get("/assets/?q=srv").text) == []
