"""The 6R pages over HTTP: results with distribution, filters (htmx fragment), explanation,
override (htmx, roles, validation), exports that cannot run formulas, starting an assessment
with criteria saved for the engagement, and other tenants."""
from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.assessment.criteria import Criteria
from portal.assessment.flow import analyse
from portal.db import set_tenant
from portal.models import Asset, Engagement, MasterFlow, SixrAnalysis
from tests.conftest import csrf_token_from
from tests.test_assets_pages import EVIL, HTMX, asset, work_in
from tests.test_assets_pages import tenant as fleet  # noqa: F401  (61 assets in a fleet)

RESULT_LINK = re.compile(r'href="/sixr/assets/([0-9a-f-]{36})"')


@pytest.fixture
def assessed(fleet, db_session):  # noqa: F811
    account, engagement = fleet
    tally = analyse(db_session, account.id, engagement.id, {"kind": "all", "asset_count": 61},
                    Criteria())
    assert tally.assets == 61
    return fleet


def as_role(role, people, login, client, tenant):
    user = people.user(role, tenant[0])
    login(user)
    work_in(client, tenant[1])
    return user


@pytest.fixture
def member(people, login, client, assessed):
    return as_role("member", people, login, client, assessed)


def test_results_show_every_assessed_asset_and_the_distribution(client, member, db_session,
                                                                assessed):
    page = client.get("/sixr/")
    assert page.status_code == 200
    assert "61 assessed assets" in page.text and 'id="sixr-distribution"' in page.text
    assert len(RESULT_LINK.findall(page.text)) == 50 and 'id="next-page"' in page.text
    counts = dict(db_session.execute(select(Asset.sixr_recommendation, func.count()).where(
        Asset.client_account_id == assessed[0].id).group_by(Asset.sixr_recommendation)).all())
    for strategy, count in counts.items():
        assert f'data-label="{strategy}" data-value="{count}"' in page.text
    second = client.get("/sixr/?page=2")
    assert len(RESULT_LINK.findall(second.text)) == 11


def test_filters_return_the_table_fragment(client, member, db_session, assessed):
    strategy = db_session.scalar(select(Asset.sixr_recommendation).where(
        Asset.client_account_id == assessed[0].id).limit(1))
    response = client.get(f"/sixr/?strategy={strategy}&sort=confidence&desc=1", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="sixr-results">')
    expected = db_session.scalar(select(func.count()).where(
        Asset.client_account_id == assessed[0].id, Asset.sixr_recommendation == strategy))
    assert len(RESULT_LINK.findall(response.text)) == min(expected, 50)
    bad = client.get("/sixr/?min_confidence=250", headers=HTMX)
    assert bad.status_code == 400 and "percentage from 0 to 100" in bad.text


def test_explanation_names_the_factors_and_the_missing_inputs(client, member, db_session,
                                                              assessed):
    target = asset(db_session, assessed, "srv-007")
    page = client.get(f"/sixr/assets/{target.id}")
    assert page.status_code == 200
    row = db_session.scalar(select(SixrAnalysis).where(SixrAnalysis.asset_id == target.id))
    assert row.rationale.split(".")[0] in page.text.replace("&#39;", "'")
    assert 'id="contributions"' in page.text and 'id="strategy-scores"' in page.text
    for missing in row.analysis_criteria["missing_inputs"]:
        assert missing.replace("_", " ") in page.text
    assert 'id="override-form"' in page.text


def test_member_overrides_with_a_reason_and_the_original_stays(client, member, db_session,
                                                               assessed):
    target = asset(db_session, assessed, "srv-007")
    page = client.get(f"/sixr/assets/{target.id}")
    token = csrf_token_from(page.text)
    engine_said = target.sixr_recommendation
    choice = "retain" if engine_said != "retain" else "retire"
    missing = client.post(f"/sixr/assets/{target.id}/override", headers=HTMX,
                          data={"csrf_token": token, "strategy": choice, "reason": ""})
    assert missing.status_code == 400 and "Say why" in missing.text
    done = client.post(f"/sixr/assets/{target.id}/override", headers=HTMX,
                       data={"csrf_token": token, "strategy": choice,
                             "reason": "Contract renewed until 2029"})
    assert done.status_code == 204 and done.headers["HX-Redirect"].endswith(str(target.id))
    after = client.get(f"/sixr/assets/{target.id}")
    assert "Contract renewed until 2029" in after.text
    assert asset(db_session, assessed, "srv-007").sixr_recommendation == choice
    rows = db_session.scalars(select(SixrAnalysis).where(
        SixrAnalysis.asset_id == target.id)).all()
    assert sorted(r.analyzed_by.split(":")[0] for r in rows) == ["engine", "user"]
    overridden = client.get("/sixr/?overridden=yes")
    assert RESULT_LINK.findall(overridden.text) == [str(target.id)]


def test_viewer_reads_but_cannot_override_or_start(client, people, login, db_session,
                                                   assessed):
    as_role("viewer", people, login, client, assessed)
    target = asset(db_session, assessed, "srv-007")
    page = client.get(f"/sixr/assets/{target.id}")
    assert page.status_code == 200 and 'id="override-form"' not in page.text
    refused = client.post(f"/sixr/assets/{target.id}/override",
                          data={"csrf_token": csrf_token_from(page.text), "strategy": "retire",
                                "reason": "x"})
    assert refused.status_code == 403
    assert client.get("/sixr/assess").status_code == 403
    assert client.get("/sixr/export.csv").status_code == 200


def test_another_tenants_asset_is_not_found(client, people, login, assessed, db_session):
    target = asset(db_session, assessed, "srv-007")
    other = people.account(name="Other")
    engagement = people.engagement(other, "Theirs")
    as_role("admin", people, login, client, (other, engagement))
    assert client.get(f"/sixr/assets/{target.id}").status_code == 404
    assert "No 6R analysis" in client.get("/sixr/").text


def test_exports_neutralise_formulas(client, member):
    response = client.get("/sixr/export.csv?sort=name")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:5] == ["asset", "application", "environment", "asset_type", "strategy"]
    assert len(rows) == 62
    evil = next(row for row in rows[1:] if "HYPERLINK" in row[0])
    assert evil[0] == "'" + EVIL
    book = client.get("/sixr/export.xlsx")
    sheet = load_workbook(io.BytesIO(book.data)).active
    assert sheet.max_row == 62
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_starting_an_assessment_saves_the_criteria(client, member, db_session, assessed):
    form = client.get("/sixr/assess")
    assert form.status_code == 200 and 'name="weight_platform_currency"' in form.text
    token = csrf_token_from(form.text)
    data = {"csrf_token": token, "name": "Wave 1 assessment", "assessment_type": "quick",
            "scope": "filter", "environment": "dev", "risk_tolerance": "aggressive",
            "preferred_clouds": ["azure"],
            **{f"weight_{name}": "1.0" for name in Criteria().weights}}
    bad = client.post("/sixr/assess", data=data | {"weight_platform_currency": "9"})
    assert bad.status_code == 400 and "Weights go from 0" in bad.text
    done = client.post("/sixr/assess", data=data | {"weight_platform_currency": "2.5"})
    assert done.status_code == 302 and "/flows/" in done.headers["Location"]
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=assessed[0].id))
    saved = db_session.get(Engagement, assessed[1].id)
    db_session.refresh(saved)
    criteria = saved.settings["assessment_criteria"]
    assert criteria["risk_tolerance"] == "aggressive"
    assert criteria["preferred_clouds"] == ["azure"]
    assert criteria["weights"]["platform_currency"] == 2.5
    master = db_session.scalar(select(MasterFlow).where(
        MasterFlow.client_account_id == assessed[0].id, MasterFlow.flow_type == "assessment"))
    assert master.flow_config["scope"] == {"kind": "filter", "filter": {"environment": "dev"}}
    again = client.get("/sixr/assess")
    assert '<option selected value="aggressive">' in again.text  # the saved criteria seed it
