"""Assets of the active engagement."""
from flask import Blueprint

from portal.engagement_data import assets_of
from portal.tenancy import require_engagement, require_role
from portal.web.listing import render_engagement_rows

bp = Blueprint("assets", __name__, url_prefix="/assets")


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    return render_engagement_rows("assets/index.html", assets_of)
