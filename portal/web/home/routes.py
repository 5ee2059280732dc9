"""The landing page: the active account's engagements at a glance."""
from flask import Blueprint, render_template

from portal.summary import engagement_summaries
from portal.tenancy import require_role
from portal.web.request_db import db

bp = Blueprint("home", __name__)


@bp.get("/")
@require_role("viewer")
def index():
    return render_template("home/index.html", summaries=engagement_summaries(db()))
