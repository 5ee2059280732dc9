"""Imports of the active engagement."""
from flask import Blueprint

from portal.engagement_data import imports_of
from portal.tenancy import require_engagement, require_role
from portal.web.listing import render_engagement_rows

bp = Blueprint("imports", __name__, url_prefix="/imports")


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    return render_engagement_rows("imports/index.html", imports_of)
