"""The engagement dashboard: its figures (computed in SQL for one engagement of one tenant),
the page (tiles, charts with a table of figures, flow progress, engagement_summary), the
empty engagement, who may see it, and that it needs nothing from the network."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from portal.dashboard import UNSET, engagement_dashboard
from portal.db import set_tenant
from portal.models import Asset, DiscoveryFlow, MasterFlow, SixrAnalysis
from portal.summary import refresh_engagement_summary
from tests.conftest import csrf_token_from

# (type, environment, tech-debt status, current strategy, application) per asset.
FLEET = [
    ("server", "production", "unsupported", "rehost", "billing"),
    ("server", "production", "soon_unsupported", "rehost", "billing"),
    ("server", "test", "extended_support_only", "replatform", "crm"),
    ("database", "production", "supported", "retain", "crm"),
    ("database", "development", "unknown", "retire", None),
    ("application", None, None, None, "crm"),
]
# Engine estimates per assessed asset (the first five): person-days, current, target.
ESTIMATES = [(10.0, 500.0, 300.0), (4.5, 200.0, 150.0), (20.0, 800.0, 400.0),
             (2.0, 100.0, 100.0), (1.0, 50.0, 0.0)]
CONFIDENCES = [0.9, 0.8, 0.6, 0.7, 0.5]
QUALITY = {"score": 87.5, "records_in": 12, "duplicates_merged": 2, "invalid_total": 1,
           "completeness": {"name": 1.0, "ip_address": 0.5, "os_name": 0.75}}
SRC_OR_HREF = re.compile(r'\b(?:src|href|action)="([^"]*)"')


def _as_tenant(db_session, account) -> None:
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))


def add_assets(db_session, account, engagement, fleet=FLEET) -> list[Asset]:
    _as_tenant(db_session, account)
    assets = []
    for n, (kind, environment, debt, strategy, application) in enumerate(fleet):
        asset = Asset(client_account_id=account.id, engagement_id=engagement.id,
                      asset_name=f"asset-{n}", asset_key=f"asset-{n}", asset_type=kind,
                      environment=environment, sixr_recommendation=strategy,
                      specifications={"application": application} if application else {},
                      migration_readiness={"tech_debt": {"status": debt, "score": 50}}
                      if debt else {})
        db_session.add(asset)
        assets.append(asset)
    db_session.flush()
    return assets


def add_engine_analyses(db_session, account, engagement, assets) -> None:
    """One engine row per assessed asset, plus a consultant's override that must not count
    in the estimates."""
    rows = zip(assets, CONFIDENCES, ESTIMATES, strict=False)
    for asset, confidence, (days, current, target) in rows:
        db_session.add(SixrAnalysis(
            client_account_id=account.id, engagement_id=engagement.id, asset_id=asset.id,
            primary_recommendation=asset.sixr_recommendation, confidence_score=confidence,
            effort_estimation={"person_days": days, "basis": ["type"]},
            cost_estimation={"currency": "USD", "current_monthly": current,
                             "target_monthly": target},
            analyzed_by="engine"))
    db_session.add(SixrAnalysis(
        client_account_id=account.id, engagement_id=engagement.id, asset_id=assets[0].id,
        primary_recommendation="rehost", confidence_score=1.0,
        analysis_criteria={"override": {"from": "replatform", "reason": "lift first"}},
        effort_estimation={"person_days": 999.0},
        cost_estimation={"currency": "USD", "current_monthly": 9999.0,
                         "target_monthly": 1.0},
        analyzed_by=f"user:{uuid.uuid4()}"))
    db_session.flush()


def add_flow(db_session, account, engagement, flow_type, status, progress,
             quality=None, updated_at=None) -> MasterFlow:
    master = MasterFlow(client_account_id=account.id, engagement_id=engagement.id,
                        flow_id=uuid.uuid4(), user_id="test", flow_type=flow_type,
                        flow_name=f"{flow_type} {status}", flow_status=status,
                        progress_percentage=progress, current_phase="data_cleansing")
    db_session.add(master)
    db_session.flush()
    if flow_type == "discovery":
        db_session.add(DiscoveryFlow(
            client_account_id=account.id, engagement_id=engagement.id,
            flow_id=master.flow_id, master_flow_id=master.flow_id, user_id="test",
            flow_name=master.flow_name, status="completed" if status == "completed"
            else "active", progress_percentage=progress, data_quality_metrics=quality or {},
            updated_at=updated_at or datetime.now(timezone.utc)))
        db_session.flush()
    return master


@pytest.fixture
def tenant(people, db_session):
    """An engagement with the fleet, its analyses and flows; a second engagement of the
    same account and another account's engagement, both with assets of their own."""
    account = people.account(name="Dash Co")
    engagement = people.engagement(account, "Wave 1")
    sibling = people.engagement(account, "Wave 2")
    elsewhere_account = people.account(name="Elsewhere")
    elsewhere = people.engagement(elsewhere_account, "Theirs")
    add_assets(db_session, elsewhere_account, elsewhere)
    add_assets(db_session, account, sibling, FLEET[:2])
    assets = add_assets(db_session, account, engagement)
    add_engine_analyses(db_session, account, engagement, assets[:5])
    # An older cleansing: the dashboard shows the latest one (set on insert, which no
    # trigger overrides).
    add_flow(db_session, account, engagement, "discovery", "completed", 100,
             {"score": 40.0, "completeness": {}},
             updated_at=datetime.now(timezone.utc) - timedelta(days=1))
    add_flow(db_session, account, engagement, "discovery", "completed", 100, QUALITY)
    add_flow(db_session, account, engagement, "discovery", "running", 40)
    add_flow(db_session, account, engagement, "assessment", "completed", 100)
    return account, engagement, elsewhere


def counts(shares) -> dict[str, int]:
    return {share.label: share.count for share in shares}


def test_figures_count_only_this_engagement(tenant, db_session):
    account, engagement, _ = tenant
    figures = engagement_dashboard(db_session, account.id, engagement.id)
    assert figures.assets == 6 and figures.applications == 2  # billing, crm
    assert counts(figures.by_type) == {"server": 3, "database": 2, "application": 1}
    assert counts(figures.by_environment) == {"production": 3, "test": 1, "development": 1,
                                              "unspecified": 1}
    assert counts(figures.by_tech_debt) == {
        "unsupported": 1, "soon_unsupported": 1, "extended_support_only": 1, "supported": 1,
        "unknown": 1, UNSET["tech_debt"]: 1}
    assert figures.assets_in_tech_debt == 3
    # Every strategy is listed, in the vocabulary's order, the unassessed last.
    assert [(s.label, s.count) for s in figures.by_strategy] == [
        ("rehost", 2), ("replatform", 1), ("refactor", 0), ("rearchitect", 0),
        ("rebuild", 0), ("repurchase", 0), ("retire", 1), ("retain", 1),
        ("not assessed", 1)]
    assert figures.strategies_assigned == 5


def test_estimates_sum_the_engine_rows_and_ignore_overrides(tenant, db_session):
    account, engagement, _ = tenant
    estimates = engagement_dashboard(db_session, account.id, engagement.id).estimates
    assert estimates.assessed_assets == 5
    assert estimates.mean_confidence == pytest.approx(sum(CONFIDENCES) / 5)
    assert estimates.person_days == pytest.approx(37.5)
    assert (estimates.current_monthly, estimates.target_monthly) == (1650.0, 950.0)
    assert estimates.monthly_saving == 700.0 and estimates.currency == "USD"


def test_flows_and_latest_data_quality(tenant, db_session):
    account, engagement, _ = tenant
    figures = engagement_dashboard(db_session, account.id, engagement.id)
    discovery, assessment = figures.flows_of_type("discovery"), figures.flows_of_type(
        "assessment")
    assert (discovery.total, discovery.completed) == (3, 2)
    assert (assessment.total, assessment.completed) == (1, 1)
    assert sorted(f.progress for f in figures.flows) == [40, 100, 100, 100]
    quality = figures.quality
    assert quality.score == 87.5 and quality.duplicates_merged == 2
    assert counts(quality.key_field_completeness)["ip_address"] == 50
    assert counts(quality.key_field_completeness)["application"] == 0


def test_an_empty_engagement_has_zeros_and_no_quality(people, db_session):
    account = people.account()
    engagement = people.engagement(account)
    _as_tenant(db_session, account)
    figures = engagement_dashboard(db_session, account.id, engagement.id)
    assert (figures.assets, figures.applications, figures.assets_in_tech_debt) == (0, 0, 0)
    assert figures.by_type == figures.by_strategy == figures.flows == ()
    assert figures.quality is None
    assert figures.estimates.assessed_assets == 0 and figures.estimates.person_days == 0
    assert figures.estimates.mean_confidence is None


def test_other_tenants_rows_stay_invisible_even_when_asked_for(tenant, db_session):
    """Asked for another account's engagement under this tenant, RLS returns nothing."""
    account, _, elsewhere = tenant
    _as_tenant(db_session, account)
    figures = engagement_dashboard(db_session, elsewhere.client_account_id, elsewhere.id)
    assert figures.assets == 0 and figures.by_type == ()


def _viewer_in(people, login, client, account, engagement=None):
    login(people.user("viewer", account))
    if engagement is not None:
        token = csrf_token_from(client.get("/engagements/").text)
        client.post("/engagements/switch", data={"engagement_id": str(engagement.id),
                                                 "csrf_token": token})


def test_viewer_sees_tiles_charts_and_flows(tenant, people, login, client, db_session):
    account, engagement, _ = tenant
    _viewer_in(people, login, client, account, engagement)
    page = client.get(f"/engagements/{engagement.id}/dashboard")
    assert page.status_code == 200
    html = page.text
    for tile, value in [("kpi-assets", "6"), ("kpi-applications", "2"),
                        ("kpi-discovery", "2 / 3"), ("kpi-assessment", "1 / 1"),
                        ("kpi-quality", "87.5"), ("kpi-tech-debt", "3"),
                        ("kpi-assessed", "5"), ("kpi-confidence", "70%"),
                        ("kpi-effort", "38"), ("kpi-cost-current", "1,650 USD"),
                        ("kpi-cost-target", "950 USD"), ("kpi-saving", "700 USD")]:
        tile_html = html.split(f'id="{tile}"', 1)[1].split("</div></div></div>", 1)[0]
        assert f'<div class="value">{value}</div>' in tile_html, tile
    for chart, kind in [("chart-asset-types", "doughnut"), ("chart-environments", "bar"),
                        ("chart-tech-debt", "bar"), ("chart-sixr", "doughnut"),
                        ("chart-quality", "hbar")]:
        card = html.split(f'id="{chart}"', 1)[1].split('class="card h-100', 1)[0]
        assert f'data-chart="{kind}"' in card, chart
    sixr = html.split('id="chart-sixr"', 1)[1].split('id="chart-quality"', 1)[0]
    assert "data-chart-labels='[\"rehost\", \"replatform\", \"retire\", \"retain\", " \
           "\"not assessed\"]'" in sixr  # slices at zero are not drawn
    assert 'data-figure="rehost">2<' in sixr and 'data-figure="refactor">0<' in sixr
    flows = html.split('id="flow-progress"', 1)[1]
    assert flows.count('class="progress portal-progress"') == 4
    assert 'href="/flows/' in flows  # the active engagement's flows link to their pages
    assert "js/charts.js" in html and "chartjs-4.5.1/chart.umd.min.js" in html


def test_flows_of_an_engagement_not_active_offer_to_switch(tenant, people, login, client):
    account, engagement, _ = tenant
    _viewer_in(people, login, client, account)
    page = client.get(f"/engagements/{engagement.id}/dashboard")
    flows = page.text.split('id="flow-progress"', 1)[1]
    assert 'href="/flows/' not in flows and "Work in this engagement" in flows


def test_the_page_needs_nothing_from_the_network(tenant, people, login, client):
    account, engagement, _ = tenant
    _viewer_in(people, login, client, account, engagement)
    html = client.get(f"/engagements/{engagement.id}/dashboard").text
    references = SRC_OR_HREF.findall(html)
    assert references and all(ref.startswith(("/", "#", "mailto:")) and
                              not ref.startswith("//") for ref in references), references
    assert "http://" not in html and "https://" not in html
    assert ' style="' not in html and "<script>" not in html  # the CSP forbids both


def test_empty_engagement_page_shows_zeros_and_empty_states(people, login, client):
    account = people.account()
    engagement = people.engagement(account, "Blank")
    _viewer_in(people, login, client, account)
    page = client.get(f"/engagements/{engagement.id}/dashboard")
    assert page.status_code == 200
    assert '<div class="value">0</div>' in page.text.split('id="kpi-assets"', 1)[1]
    assert '<div class="value">—</div>' in page.text.split('id="kpi-quality"', 1)[1]
    assert "<canvas" not in page.text and "charts.js" not in page.text
    for message in ("No assets yet", "No 6R recommendations yet", "No flows yet",
                    "No data-quality figures yet"):
        assert message in page.text
    # Creating the engagement refreshed engagement_summary: its row says zero.
    assert re.search(r"Assets</dt><dd[^>]*>0<",
                     page.text.split('id="engagement-summary"', 1)[1])


def test_unset_types_are_drawn_but_unanalysed_assets_are_not(people, login, client,
                                                              db_session):
    """Assets of no known type still make a type chart; assets no phase has analysed make
    no tech-debt or 6R chart, only the empty state that says what to run."""
    account = people.account()
    engagement = people.engagement(account, "Untyped")
    add_assets(db_session, account, engagement, [(None, None, None, None, None)] * 3)
    _viewer_in(people, login, client, account)
    html = client.get(f"/engagements/{engagement.id}/dashboard").text
    types = html.split('id="chart-asset-types"', 1)[1].split('id="chart-environments"', 1)[0]
    assert "data-chart-labels='[\"unspecified\"]'" in types
    sixr = html.split('id="chart-sixr"', 1)[1].split('id="chart-quality"', 1)[0]
    assert "<canvas" not in sixr and "No 6R recommendations yet" in sixr
    assert "No tech-debt analysis yet" in html


def test_engagement_summary_after_a_refresh(tenant, people, login, client, db_session):
    account, engagement, _ = tenant
    refresh_engagement_summary(db_session)
    _viewer_in(people, login, client, account, engagement)
    card = client.get(f"/engagements/{engagement.id}/dashboard").text.split(
        'id="engagement-summary"', 1)[1]
    assert "As of the last refresh" in card
    # The seed's view counts the discovery flows and the assets of the engagement.
    assert re.search(r"Discovery flows</dt><dd[^>]*>3<", card)
    assert re.search(r"Assets</dt><dd[^>]*>6<", card)


def test_another_accounts_engagement_is_404_and_anonymous_goes_to_login(tenant, people,
                                                                        login, client):
    account, engagement, elsewhere = tenant
    anonymous = client.get(f"/engagements/{engagement.id}/dashboard")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    _viewer_in(people, login, client, account)
    assert client.get(f"/engagements/{elsewhere.id}/dashboard").status_code == 404
    assert client.get(f"/engagements/{uuid.uuid4()}/dashboard").status_code == 404


def test_home_and_engagement_pages_link_to_the_dashboard(tenant, people, login, client,
                                                       db_session):
    account, engagement, _ = tenant
    refresh_engagement_summary(db_session)
    _viewer_in(people, login, client, account)
    link = f'href="/engagements/{engagement.id}/dashboard"'
    assert link in client.get("/").text
    assert link in client.get(f"/engagements/{engagement.id}").text
