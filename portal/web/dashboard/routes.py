"""An engagement's dashboard: KPI tiles and charts of its assets, flows, data quality,
tech debt and 6R estimates."""
import uuid

from flask import Blueprint, g, render_template

from portal.accounts import engagement_in
from portal.dashboard import engagement_dashboard
from portal.tenancy import require_role
from portal.web.request_db import db

bp = Blueprint("dashboard", __name__)


@bp.get("/engagements/<uuid:engagement_id>/dashboard")
@require_role("viewer")
def show(engagement_id: uuid.UUID):
    # Another tenant's engagement raises NotFound and answers like a missing one (404).
    engagement = engagement_in(db(), g.tenant.account.id, engagement_id)
    return render_template("dashboard/index.html", engagement=engagement,
                           figures=engagement_dashboard(db(), g.tenant.account.id,
                                                        engagement.id))
