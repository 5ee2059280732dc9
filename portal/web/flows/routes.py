"""Flows of the active engagement."""
from flask import Blueprint

from portal.engagement_data import flows_of
from portal.tenancy import require_engagement, require_role
from portal.web.listing import render_engagement_rows

bp = Blueprint("flows", __name__, url_prefix="/flows")


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    return render_engagement_rows("flows/index.html", flows_of)
