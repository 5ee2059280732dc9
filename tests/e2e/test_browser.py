"""Browser journeys in a real headless Chromium against `portal serve`."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from portal.config import PROJECT_ROOT
from tests.live_server import portal_serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = PROJECT_ROOT / "test-artifacts"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("chromium is missing: .ci/run installs it before the tests")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def live_portal(create_database, tmp_path_factory):
    instance = tmp_path_factory.mktemp("e2e-instance")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env |= {"DATABASE_URL": create_database(), "PORTAL_INSTANCE_PATH": str(instance)}
    with portal_serve(env, instance / "serve.log", "--demo") as (url, _, _process):
        logins = {}
        for line in (instance / "demo-logins.txt").read_text().splitlines():
            email, password, _what = line.split("\t")
            logins[email] = password
        yield url, logins


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    # CSP violations and script errors reach the console; a failed load of a page itself
    # (a 401 or 403 a test provokes) is checked by the test, a failed sub-resource is not.
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document" else None)
    yield page
    context.close()
    assert problems == []


def log_in(page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def choose(page, switcher: str, label: str) -> None:
    """Pick from a context-bar switcher once htmx is wired up (it posts on change), then
    wait for the page it sends us to."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined")
    page.select_option(switcher, label=label)
    expect(page.locator("h1")).to_have_text(label)


def test_consultant_logs_in_switches_account_and_engagement(page, live_portal):
    url, logins = live_portal
    log_in(page, url, "consultant@demo.portal", logins["consultant@demo.portal"])
    expect(page.locator("h1")).to_have_text("Contoso Health")  # first account by name
    page.screenshot(path=SHOTS / "dashboard-desktop.png", full_page=True)

    # The navigation switcher posts with htmx (CSRF header) and reloads the page.
    choose(page, "#account-switch", "Northwind Traders")

    page.locator("#mainnav").get_by_role("link", name="Engagements").click()
    expect(page.locator("#engagements")).to_contain_text("Datacenter exit 2027")
    page.get_by_role("button", name="Work in this engagement").click()
    expect(page.locator("h1")).to_have_text("Datacenter exit 2027")
    expect(page.locator("#engagement-switch")).to_have_value(re.compile(".+"))
    page.locator("#mainnav").get_by_role("link", name="Assets").click()
    # The demo imports a sample inventory through the discovery flow.
    expect(page.locator("#asset-table, #assets").first).to_contain_text("pay-web01")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.locator("#mainnav").get_by_role("link", name="Engagements").click()
    page.screenshot(path=SHOTS / "engagements-laptop.png", full_page=True)

    page.get_by_role("button", name=re.compile("consultant@demo.portal")).click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(f"{url}/engagements/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_wrong_password_shows_a_message(page, live_portal):
    url, _logins = live_portal
    log_in(page, url, "consultant@demo.portal", "definitely-wrong-password")
    expect(page.locator(".invalid-feedback")).to_have_text("Invalid email or password.")
    page.screenshot(path=SHOTS / "login-error.png")


def test_platform_admin_sees_administration(page, live_portal):
    url, logins = live_portal
    log_in(page, url, "admin@demo.portal", logins["admin@demo.portal"])
    page.locator("#mainnav").get_by_role("link", name="Admin").click()
    expect(page.locator("#admin-accounts")).to_contain_text("Northwind Traders")
    # The demo's last steps (discovery, then an assessment) are the newest entries.
    expect(page.locator("#audit")).to_contain_text(re.compile(r"sixr_analysis|assets"))
    page.screenshot(path=SHOTS / "admin.png", full_page=True)


def test_viewer_cannot_reach_administration(page, live_portal):
    url, logins = live_portal
    log_in(page, url, "auditor@northwind.example", logins["auditor@northwind.example"])
    expect(page.locator("h1")).to_have_text("Northwind Traders")
    response = page.goto(f"{url}/admin/")
    assert response.status == 403
    expect(page.locator("#error-page")).to_contain_text("Not allowed")


def consultant_in_the_demo_engagement(page, live_portal) -> None:
    """Logged in as the demo consultant, working in Northwind's datacenter exit."""
    url, logins = live_portal
    log_in(page, url, "consultant@demo.portal", logins["consultant@demo.portal"])
    choose(page, "#account-switch", "Northwind Traders")
    choose(page, "#engagement-switch", "Datacenter exit 2027")


def test_member_uploads_reviews_and_accepts_an_inventory(page, live_portal):
    consultant_in_the_demo_engagement(page, live_portal)
    page.locator("#mainnav").get_by_role("link", name="Imports").click()
    sample = PROJECT_ROOT / "tests" / "discovery" / "samples" / "servicenow_cmdb_ci_server.csv"
    page.set_input_files("#file", str(sample))
    page.get_by_role("button", name="Upload and map").click()
    expect(page).to_have_url(re.compile(r"/imports/.+/review$"))
    expect(page.locator("#mapping-table")).to_contain_text("ip_address")
    page.screenshot(path=SHOTS / "import-review.png", full_page=True)

    # Change one mapping in place (htmx swap) and see the preview follow it.
    row = page.locator("#mapping-table tr", has_text="short_description")
    row.locator("select[name=target]").select_option("tags")
    expect(page.locator("#preview thead")).to_contain_text("tags")
    page.get_by_role("button", name="Accept all and validate").click()
    expect(page.locator("#invalid-count")).to_be_visible()
    expect(page.get_by_text("rows ready for discovery")).to_be_visible()
    page.screenshot(path=SHOTS / "import-accepted.png", full_page=True)

    # One click runs the discovery flow; the live page follows it to the end (the worker
    # `portal serve` started runs the phases as queued jobs).
    page.get_by_role("button", name="Run discovery").click()
    expect(page.locator("#flow-live .badge").first).to_have_text("completed", timeout=60_000)
    expect(page.locator("#inventory-counts")).to_contain_text("created")
    page.screenshot(path=SHOTS / "discovery-flow.png", full_page=True)

    # Find an asset it created, then export the filtered list.
    page.locator("#mainnav").get_by_role("link", name="Assets").click()
    page.get_by_placeholder("Name, hostname or IP").fill("aix-erp")
    expect(page.locator("#asset-table tbody tr")).to_have_count(1, timeout=10_000)
    with page.expect_download() as download:
        page.locator("#asset-export-csv").click()
    exported = Path(download.value.path()).read_text()
    assert exported.splitlines()[0].startswith("name") or "name" in exported.splitlines()[0]
    assert "aix-erp-01" in exported and exported.count("\n") == 2


def test_consultant_assesses_explains_and_overrides(page, live_portal):
    consultant_in_the_demo_engagement(page, live_portal)
    # The demo already ran one assessment: its results are there for a newcomer.
    page.locator("#mainnav").get_by_role("link", name="6R").click()
    expect(page.locator("#sixr-distribution")).to_be_visible()

    page.locator("#start-assessment").click()
    page.get_by_label("Name").fill("Wave 1 assessment")
    page.select_option("#risk_tolerance", "aggressive")
    page.locator("#run-assessment").click()
    expect(page.locator("#flow-live .badge").first).to_have_text("completed", timeout=60_000)
    expect(page.locator("#assessment-results")).to_contain_text("assets assessed")
    page.screenshot(path=SHOTS / "assessment-flow.png", full_page=True)

    page.get_by_role("link", name="Open the results").click()
    expect(page.locator("#sixr tbody tr").first).to_be_visible()
    page.screenshot(path=SHOTS / "sixr-results.png", full_page=True)
    page.locator("#sixr tbody tr a").first.click()
    expect(page.locator("#contributions")).to_be_visible()
    expect(page.locator("#rationale")).to_contain_text("Recommended")
    engine_said = page.locator("#engine-recommendation").inner_text().strip()
    choice = "retain" if engine_said != "retain" else "retire"
    page.locator("#override-form select[name=strategy]").select_option(choice)
    page.locator("#override-form textarea[name=reason]").fill("Licence runs until 2029")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("#current-decision")).to_have_text(choice)
    expect(page.locator("#decision")).to_contain_text("Licence runs until 2029")
    expect(page.locator("#engine-recommendation")).to_have_text(engine_said)
    page.screenshot(path=SHOTS / "sixr-explanation.png", full_page=True)

    # The engagement's dashboard counts the decision.
    page.locator("#mainnav").get_by_role("link", name="Engagements").click()
    page.get_by_role("link", name="Datacenter exit 2027").first.click()
    page.get_by_role("link", name=re.compile("Dashboard")).last.click()
    expect(page).to_have_url(re.compile(r"/engagements/.+/dashboard$"))
    expect(page.locator("#chart-sixr canvas")).to_be_visible()
    expect(page.locator("#chart-sixr")).to_contain_text(choice)
    expect(page.locator("#kpi-assessed .value")).not_to_have_text("0")
