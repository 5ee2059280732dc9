"""Flows of the active engagement: the list, one flow's live page, starting a discovery
flow from an import, and pause / resume / cancel / retry."""
import uuid

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from portal.discovery import flow as _discovery  # noqa: F401  (registers the flow type)
from portal.discovery.imports import import_in
from portal.engagement_data import flows_of
from portal.errors import NotFound
from portal.flows import engine, jobs
from portal.flows.reading import flow_in
from portal.tenancy import require_engagement, require_role
from portal.web.listing import render_engagement_rows
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("flows", __name__, url_prefix="/flows")
ACTIONS = {"pause": engine.pause_flow, "resume": engine.resume_flow,
           "cancel": engine.cancel_flow, "retry": engine.retry_flow}
ENQUEUE_AFTER = {"resume", "retry"}


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    return render_engagement_rows("flows/index.html", flows_of)


def _flow_or_404(flow_id: uuid.UUID):
    return flow_in(db(), g.tenant.account.id, g.tenant.engagement.id, flow_id)


@bp.get("/<uuid:flow_id>")
@require_role("viewer")
@require_engagement
def show(flow_id: uuid.UUID):
    master, child = _flow_or_404(flow_id)
    template = "flows/_live.html" if is_htmx() else "flows/show.html"
    return render_template(template, master=master, child=child,
                           phases=engine.phase_states(master),
                           pending=engine.pending_action(master))


@bp.post("/discovery")
@require_role("member")
@require_engagement
def start_discovery():
    try:
        data_import = import_in(db(), g.tenant.account.id, g.tenant.engagement.id,
                                uuid.UUID(request.form.get("import_id", "")))
    except (ValueError, NotFound):
        abort(404)
    master = engine.start_flow(db(), g.tenant.account.id, g.tenant.engagement.id,
                               current_user.id, "discovery",
                               f"Discovery of {data_import.filename}"[:255],
                               {"import_id": str(data_import.id)})
    jobs.enqueue_flow(db(), g.tenant.account.id, master.flow_id)
    flash("Discovery flow started.", "success")
    return redirect(url_for("flows.show", flow_id=master.flow_id))


@bp.post("/<uuid:flow_id>/<action>")
@require_role("member")
@require_engagement
def act(flow_id: uuid.UUID, action: str):
    if action not in ACTIONS:
        abort(404)
    _flow_or_404(flow_id)
    ACTIONS[action](db(), g.tenant.account.id, flow_id, current_user.id)
    if action in ENQUEUE_AFTER:
        jobs.enqueue_flow(db(), g.tenant.account.id, flow_id)
    flash(f"Flow: {action} requested.", "success")
    return redirect(url_for("flows.show", flow_id=flow_id))
