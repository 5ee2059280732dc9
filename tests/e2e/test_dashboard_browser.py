"""The engagement dashboard in a real headless Chromium: every chart draws (with the
vendored Chart.js, under the portal's CSP, no network) and no script complains.  The
fixtures and helpers are test_browser's (the `page` fixture fails a test on any console
error, script error or failed sub-resource)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

# test_browser skips the whole module when Chromium is missing, and so this one.
from tests.e2e.test_browser import SHOTS, browser, live_portal, log_in, page  # noqa: F401

# Per chart: drawn by Chart.js, and some pixel of the canvas is not transparent.
CHARTS_DRAWN = """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => {
    const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) { if (pixels[i]) painted++; }
    return {chart: c.closest('.card').id, drawn: !!Chart.getChart(c), painted};
})"""


def test_dashboard_draws_every_chart(page, live_portal):  # noqa: F811
    url, logins = live_portal
    log_in(page, url, "consultant@demo.portal", logins["consultant@demo.portal"])
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined")
    page.select_option("#account-switch", label="Northwind Traders")
    expect(page.locator("h1")).to_have_text("Northwind Traders")

    # From the account's landing page, an engagement's name opens its dashboard.
    page.locator("#engagement-summary").get_by_role("link",
                                                    name="Datacenter exit 2027").click()
    expect(page).to_have_url(re.compile(r"/engagements/.+/dashboard$"))
    expect(page.locator("#kpi-assets .value")).not_to_have_text("0")
    page.wait_for_function("() => document.querySelectorAll('canvas[data-chart]').length"
                           " && window.Chart && Array.from(document.querySelectorAll('canvas[data-chart]'))"
                           ".every(c => Chart.getChart(c))")
    page.screenshot(path=SHOTS / "engagement-dashboard-desktop.png", full_page=True)
    charts = page.evaluate(CHARTS_DRAWN)
    names = {chart["chart"] for chart in charts}
    assert {"chart-asset-types", "chart-environments", "chart-quality"} <= names, charts
    assert all(chart["drawn"] and chart["painted"] > 500 for chart in charts), charts
    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_timeout(300)  # Chart.js redraws on resize
    assert all(chart["painted"] > 500 for chart in page.evaluate(CHARTS_DRAWN))
    page.screenshot(path=SHOTS / "engagement-dashboard-laptop.png", full_page=True)
