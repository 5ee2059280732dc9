"""Engagements of the active account: the filtered list, the summary page, creating,
editing (optimistically locked), closing and deactivating them, and choosing the active
one."""
import uuid
from dataclasses import dataclass

from flask import Blueprint, abort, flash, g, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from portal.accounts import engagement_in
from portal.engagement_data import assets_of, flows_of, imports_of, sixr_results_of
from portal.engagements import (WHAT, account_members, close_engagement,
                                deactivate_engagement, engagement_lead, filtered_engagements,
                                new_engagement, update_engagement)
from portal.errors import DomainError
from portal.locking import CONFLICT_MESSAGE, EditConflict
from portal.tenancy import ROLE_LEVELS, choose_context, require_role
from portal.web.engagements.forms import (EngagementFilterForm, EngagementForm, VersionForm,
                                          form_data)
from portal.web.errors import render_error
from portal.web.htmx import redirect_or_refresh
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("engagements", __name__, url_prefix="/engagements")

# Pages of the active engagement that the summary page opens (after switching to it).
LANDING_PAGES = ("imports.index", "flows.index", "assets.index", "assessment.index")
PREVIEW_ROWS = 5
PREVIEWS = {"imports": imports_of, "flows": flows_of, "assets": assets_of,
            "sixr_results": sixr_results_of}


@dataclass(frozen=True)
class Problem:
    """Why a save was refused, and the status that says so."""

    message: str
    status: int


@bp.context_processor
def _permissions() -> dict:
    tenant = g.get("tenant")
    level = ROLE_LEVELS.get(tenant.role, 0) if tenant and tenant.role else 0
    return {"can_edit": level >= ROLE_LEVELS["member"],
            "can_deactivate": level >= ROLE_LEVELS["admin"]}


def _engagement_or_404(engagement_id: uuid.UUID):
    return engagement_in(db(), g.tenant.account.id, engagement_id)


def _attempt(action, *args):
    """Run a domain action on the request's session: (result, None), or (None, Problem)
    when a rule or someone else's save got in the way."""
    try:
        return action(db(), *args), None
    except EditConflict as exc:
        return None, Problem(str(exc), 409)
    except StaleDataError:  # a save that raced ours won between our check and our UPDATE
        db().rollback()  # the failed flush left the transaction unusable
        return None, Problem(CONFLICT_MESSAGE.format(what=WHAT), 409)
    except DomainError as exc:
        return None, Problem(str(exc), 400)


def _show_url(engagement) -> str:
    return url_for("engagements.show", engagement_id=engagement.id)


@bp.get("/")
@require_role("viewer")
def index():
    filters = EngagementFilterForm(formdata=request.args)
    if not filters.validate():
        return render_error(400, "Unknown filter value: choose one from the lists.")
    chosen = filters.to_filter()
    rows = filtered_engagements(db(), g.tenant.account.id, chosen)
    template = "engagements/_table.html" if is_htmx() else "engagements/index.html"
    return render_template(template, rows=rows, filters=filters, filtering=not chosen.is_empty)


@bp.get("/<uuid:engagement_id>")
@require_role("viewer")
def show(engagement_id: uuid.UUID):
    return _render_show(_engagement_or_404(engagement_id))


def _render_show(engagement, problem: Problem | None = None):
    previews = {name: fetch(db(), g.tenant.account.id, engagement.id, limit=PREVIEW_ROWS)
                for name, fetch in PREVIEWS.items()}
    return render_template("engagements/show.html", engagement=engagement,
                           lead=engagement_lead(db(), engagement), problem=problem,
                           **previews), problem.status if problem else 200


def _render_form(form: EngagementForm, engagement=None, problem: Problem | None = None):
    status = problem.status if problem else (400 if form.is_submitted() else 200)
    template = "engagements/_form.html" if is_htmx() else "engagements/form.html"
    return render_template(template, form=form, engagement=engagement,
                           problem=problem), status


@bp.route("/new", methods=["GET", "POST"])
@require_role("member")
def create():
    form = EngagementForm(leads=account_members(db(), g.tenant.account.id), creating=True)
    if not form.validate_on_submit():
        return _render_form(form)
    engagement, problem = _attempt(new_engagement, g.tenant.account, form.slug.data,
                                   form.changes(), current_user.id)
    if problem:
        return _render_form(form, problem=problem)
    flash(f"Engagement {engagement.name} created.", "success")
    return redirect_or_refresh(_show_url(engagement))


@bp.route("/<uuid:engagement_id>/edit", methods=["GET", "POST"])
@require_role("member")
def edit(engagement_id: uuid.UUID):
    engagement = _engagement_or_404(engagement_id)
    form = EngagementForm(data=form_data(engagement), creating=False,
                          leads=account_members(db(), g.tenant.account.id),
                          current_lead=engagement.engagement_lead_id)
    if not form.validate_on_submit():
        return _render_form(form, engagement)
    _, problem = _attempt(update_engagement, engagement, form.lock_version.data,
                          form.changes())
    if problem:
        return _render_form(form, engagement, problem)
    flash("Engagement saved.", "success")
    return redirect_or_refresh(_show_url(engagement))


@bp.post("/<uuid:engagement_id>/close")
@require_role("member")
def close(engagement_id: uuid.UUID):
    return _versioned_change(engagement_id, close_engagement, "Engagement closed.")


@bp.post("/<uuid:engagement_id>/deactivate")
@require_role("admin")
def deactivate(engagement_id: uuid.UUID):
    return _versioned_change(engagement_id, deactivate_engagement,
                             "Engagement deactivated: it no longer appears in lists.",
                             landing=url_for("engagements.index"))


def _versioned_change(engagement_id: uuid.UUID, action, done: str, landing: str | None = None):
    """A button that changes an engagement as shown at the version it posts."""
    engagement = _engagement_or_404(engagement_id)
    form = VersionForm()
    if not form.validate_on_submit():
        return render_error(400, form.lock_version.errors[0] if form.lock_version.errors
                            else None)
    _, problem = _attempt(action, engagement, form.lock_version.data)
    if problem:
        return render_error(problem.status, problem.message) if is_htmx() \
            else _render_show(engagement, problem)
    flash(done, "success")
    return redirect_or_refresh(landing or _show_url(engagement))


@bp.post("/switch")
@require_role("viewer")
def switch():
    try:
        engagement_id = uuid.UUID(request.form.get("engagement_id", ""))
    except ValueError:
        abort(400)
    engagement = _engagement_or_404(engagement_id)
    if not engagement.is_active:
        abort(404)
    choose_context(g.tenant.account.id, engagement.id)
    flash(f"Working in {engagement.name}.", "success")
    landing = request.form.get("landing")
    # Only named pages, never a URL from the request: no open redirect.
    target = url_for(landing) if landing in LANDING_PAGES else _show_url(engagement)
    return redirect_or_refresh(target)
