"""Engagements of the active account: list, summary page, and choosing the active one."""
import uuid

from flask import Blueprint, abort, flash, g, render_template, request, url_for

from portal.accounts import engagement_in, engagements_of
from portal.engagement_data import assets_of, flows_of, imports_of
from portal.errors import NotFound
from portal.tenancy import choose_context, require_role
from portal.web.htmx import redirect_or_refresh
from portal.web.request_db import db

bp = Blueprint("engagements", __name__, url_prefix="/engagements")


def _engagement_or_404(engagement_id: uuid.UUID):
    try:
        return engagement_in(db(), g.tenant.account.id, engagement_id)
    except NotFound:
        abort(404)


@bp.get("/")
@require_role("viewer")
def index():
    return render_template("engagements/index.html",
                           rows=engagements_of(db(), g.tenant.account.id))


@bp.get("/<uuid:engagement_id>")
@require_role("viewer")
def show(engagement_id: uuid.UUID):
    engagement = _engagement_or_404(engagement_id)
    account_id = g.tenant.account.id
    return render_template(
        "engagements/show.html", engagement=engagement,
        imports=imports_of(db(), account_id, engagement.id, limit=5),
        flows=flows_of(db(), account_id, engagement.id, limit=5),
        assets=assets_of(db(), account_id, engagement.id, limit=5))


@bp.post("/switch")
@require_role("viewer")
def switch():
    try:
        engagement_id = uuid.UUID(request.form.get("engagement_id", ""))
    except ValueError:
        abort(400)
    engagement = _engagement_or_404(engagement_id)
    choose_context(g.tenant.account.id, engagement.id)
    flash(f"Working in {engagement.name}.", "success")
    return redirect_or_refresh(url_for("engagements.show", engagement_id=engagement.id))
