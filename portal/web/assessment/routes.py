"""6R results of the active engagement: the results table with its distribution, an asset's
explanation and override, applications, exports, and starting an assessment flow."""
from __future__ import annotations

import uuid

from flask import (Blueprint, abort, flash, g, make_response, redirect, render_template,
                   request, url_for)
from flask_login import current_user

from portal.assessment import flow as assessment_flow
from portal.assessment import results
from portal.assessment.criteria import FACTOR_LABELS
from portal.assessment.overrides import override_recommendation
from portal.errors import DomainError
from portal.flows import engine, jobs
from portal.tenancy import ROLE_LEVELS, require_engagement, require_role
from portal.web.assessment.forms import AssessmentForm, OverrideForm, ResultFilterForm
from portal.web.htmx import redirect_or_refresh
from portal.web.downloads import csv_download, download_name, xlsx_download
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("assessment", __name__, url_prefix="/sixr")


@bp.context_processor
def _helpers() -> dict:
    tenant = g.get("tenant")
    level = ROLE_LEVELS.get(tenant.role, 0) if tenant and tenant.role else 0
    return {"can_edit": level >= ROLE_LEVELS["member"], "FACTOR_LABELS": FACTOR_LABELS}


def _scope() -> tuple[uuid.UUID, uuid.UUID]:
    return g.tenant.account.id, g.tenant.engagement.id


def _checked(form: ResultFilterForm) -> ResultFilterForm:
    """The form when its filters are usable; a DomainError saying why otherwise."""
    if not form.validate():
        raise DomainError("These filters cannot be used: "
                          + "; ".join(e for errors in form.errors.values() for e in errors))
    return form


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    form = ResultFilterForm(formdata=request.args)
    problem, page = None, None
    try:
        _checked(form)
        page = results.result_page(db(), *_scope(), form.to_filter(), form.sort.data,
                                   bool(form.desc.data), form.page.data or 1)
    except DomainError as exc:
        problem = str(exc)
    context = {"form": form, "page": page, "problem": problem}
    status = 400 if problem else 200
    if is_htmx():
        return make_response(render_template("assessment/_results.html", **context), status)
    return render_template(
        "assessment/index.html", **context,
        distribution=results.distribution(db(), *_scope()),
        latest=results.latest_assessment(db(), *_scope()),
        applications=results.applications_of(db(), *_scope())), status


@bp.get("/export.<fmt>")
@require_role("viewer")
@require_engagement
def export(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    form = _checked(ResultFilterForm(formdata=request.args))
    rows = results.export_rows(db(), *_scope(), form.to_filter(), form.sort.data,
                               bool(form.desc.data))
    name = download_name("6r-results", fmt)
    if fmt == "csv":
        return csv_download(rows, results.EXPORT_HEADER, name)
    return xlsx_download(rows, results.EXPORT_HEADER, name, "6R results")


def _explanation(asset_id: uuid.UUID) -> results.Explanation:
    return results.explanation(db(), *_scope(), asset_id)


@bp.get("/assets/<uuid:asset_id>")
@require_role("viewer")
@require_engagement
def explain(asset_id: uuid.UUID):
    found = _explanation(asset_id)
    form = OverrideForm(data={"strategy": found.asset.sixr_recommendation})
    return render_template("assessment/explain.html", found=found, form=form)


@bp.post("/assets/<uuid:asset_id>/override")
@require_role("member")
@require_engagement
def override(asset_id: uuid.UUID):
    found = _explanation(asset_id)
    form = OverrideForm()
    if form.validate_on_submit():
        try:
            override_recommendation(db(), *_scope(), asset_id, form.strategy.data,
                                    form.reason.data, current_user.id,
                                    current_user.display_name)
            flash(f"Decision recorded: {form.strategy.data}.", "success")
            return redirect_or_refresh(url_for("assessment.explain", asset_id=asset_id))
        except DomainError as exc:
            form.reason.errors = [str(exc)]
    template = "assessment/_decision.html" if is_htmx() else "assessment/explain.html"
    return render_template(template, found=found, form=form), 400


@bp.get("/applications")
@require_role("viewer")
@require_engagement
def applications():
    return render_template("assessment/applications.html",
                           verdicts=results.latest_applications(db(), *_scope()))


@bp.get("/applications/view")
@require_role("viewer")
@require_engagement
def application():
    name = (request.args.get("name") or "").strip()
    verdict = next((v for v in results.latest_applications(db(), *_scope())
                    if v.get("application") == name), None)
    if verdict is None:
        abort(404)
    page = results.result_page(db(), *_scope(), results.ResultFilter(application=name),
                               "strategy", page=request.args.get("page", 1, type=int))
    return render_template("assessment/application.html", verdict=verdict, page=page)


def _assessment_form() -> AssessmentForm:
    criteria = assessment_flow.criteria_for(db(), *_scope())
    form = AssessmentForm(data={
        "risk_tolerance": criteria.risk_tolerance,
        "preferred_clouds": list(criteria.preferred_clouds),
        "compliance_requirements": list(criteria.compliance_requirements),
        **{f"weight_{k}": v for k, v in criteria.weights.items()}})
    form.applications.choices = [(a, a) for a in results.applications_of(db(), *_scope())]
    return form


@bp.route("/assess", methods=["GET", "POST"])
@require_role("member")
@require_engagement
def start():
    form = _assessment_form()
    if not form.validate_on_submit():
        return render_template("assessment/start.html", form=form), \
            400 if form.is_submitted() else 200
    account_id, engagement_id = _scope()
    try:
        assessment_flow.criteria_for(db(), account_id, engagement_id, form.criteria(),
                                     form.assessment_type.data)
    except ValueError as exc:
        form.form_errors.append(str(exc))
        return render_template("assessment/start.html", form=form), 400
    assessment_flow.save_engagement_criteria(db(), g.tenant.engagement, form.criteria())
    master = engine.start_flow(db(), account_id, engagement_id, current_user.id, "assessment",
                               form.name.data, {"scope": form.scope_dict(),
                                                "assessment_type": form.assessment_type.data},
                               {"assessment_type": form.assessment_type.data})
    jobs.enqueue_flow(db(), account_id, master.flow_id)
    flash("Assessment started.", "success")
    return redirect(url_for("flows.show", flow_id=master.flow_id))
