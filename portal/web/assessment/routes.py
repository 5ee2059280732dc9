"""6R results of the active engagement."""
from flask import Blueprint

from portal.engagement_data import sixr_results_of
from portal.tenancy import require_engagement, require_role
from portal.web.listing import render_engagement_rows

bp = Blueprint("assessment", __name__, url_prefix="/sixr")


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    return render_engagement_rows("assessment/index.html", sixr_results_of)
