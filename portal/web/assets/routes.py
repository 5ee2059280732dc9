"""The asset inventory of the active engagement: the filtered, sorted, keyset-paginated list
(htmx swaps the table and keeps the URL shareable), one asset's page, editing under
optimistic locking, and exports of the filtered list."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Blueprint, flash, g, make_response, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from portal import inventory
from portal.discovery.fields import FIELDS_BY_NAME
from portal.errors import DomainError
from portal.locking import CONFLICT_MESSAGE, EditConflict
from portal.tenancy import ROLE_LEVELS, require_engagement, require_role
from portal.web.assets.forms import (TECH_DEBT_COLOURS, TECH_DEBT_LABELS, AssetFilterForm,
                                     AssetForm, form_data)
from portal.web.downloads import csv_download, download_name, xlsx_download
from portal.web.htmx import redirect_or_refresh
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("assets", __name__, url_prefix="/assets")

PAGE_SIZE = 50
BAD_FILTERS = "These filters cannot be used: check the search and sort, or clear them."


@dataclass(frozen=True)
class Problem:
    """Why a save was refused, and the status that says so."""

    message: str
    status: int


@bp.context_processor
def _helpers() -> dict:
    tenant = g.get("tenant")
    level = ROLE_LEVELS.get(tenant.role, 0) if tenant and tenant.role else 0
    return {"can_edit": level >= ROLE_LEVELS["member"], "SORTS": inventory.SORTS,
            "field_label": _field_label, "TECH_DEBT_LABELS": TECH_DEBT_LABELS,
            "TECH_DEBT_COLOURS": TECH_DEBT_COLOURS}


def _field_label(name: str) -> str:
    known = FIELDS_BY_NAME.get(name)
    return known.label if known else name.replace("_", " ").capitalize()


def _scope() -> tuple[uuid.UUID, uuid.UUID]:
    return g.tenant.account.id, g.tenant.engagement.id


def _filter_form() -> AssetFilterForm:
    """The list's filters from the query string; a DomainError (400 page) when unusable."""
    form = AssetFilterForm(formdata=request.args)
    if not form.validate():
        raise DomainError(BAD_FILTERS)
    return form


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    form = AssetFilterForm(formdata=request.args)
    try:
        page, problem = _page(form), None
    except DomainError as exc:  # unusable filters or an edited page link: say so, in place
        page, problem = None, str(exc)
    context = {"form": form, "page": page, "problem": problem,
               "filter_args": form.filter_args()}
    status = 400 if problem else 200
    if is_htmx():
        response = make_response(render_template("assets/_table.html", **context), status)
        # The address bar gets the tidy form of the request (no empty filters).
        response.headers["HX-Push-Url"] = _list_url(form) if page else "false"
        return response
    return render_template("assets/index.html", **context,
                           choices=inventory.filter_choices(db(), *_scope())), status


def _page(form: AssetFilterForm) -> inventory.AssetPage:
    if not form.validate():
        raise DomainError(BAD_FILTERS)
    return inventory.asset_page(db(), *_scope(), form.to_filter(), form.ordering,
                                form.after.data or None, PAGE_SIZE,
                                before=form.before.data or None)


def _list_url(form: AssetFilterForm) -> str:
    """The list's URL for a valid form: its filters, sort and position, nothing empty."""
    position = {name: form[name].data for name in ("after", "before") if form[name].data}
    return url_for("assets.index", **form.filter_args(), sort=form.ordering.token, **position)


@bp.get("/<uuid:asset_id>")
@require_role("viewer")
@require_engagement
def show(asset_id: uuid.UUID):
    asset = inventory.asset_detail(db(), *_scope(), asset_id)  # NotFound: 404
    return render_template(
        "assets/show.html", asset=asset, upstream=inventory.depends_on(db(), asset),
        downstream=inventory.depended_on_by(db(), asset),
        history=inventory.asset_history(db(), g.tenant.account.id, asset))


@bp.route("/<uuid:asset_id>/edit", methods=["GET", "POST"])
@require_role("member")
@require_engagement
def edit(asset_id: uuid.UUID):
    asset = inventory.asset_detail(db(), *_scope(), asset_id)
    values = inventory.editable_values(asset)
    form = AssetForm(data=form_data(values, asset.lock_version),
                     current_criticality=values["business_criticality"])
    if not form.validate_on_submit():
        return _render_form(form, asset)
    problem = _attempt(inventory.update_asset, asset, form.lock_version.data, form.changes())
    if problem:
        return _render_form(form, asset, problem)
    flash("Asset saved.", "success")
    return redirect_or_refresh(url_for("assets.show", asset_id=asset.id))


def _attempt(action, *args) -> Problem | None:
    """Run a domain action on the request's session: None, or the Problem when a rule or
    someone else's save got in the way."""
    try:
        action(db(), *args)
        return None
    except EditConflict as exc:
        return Problem(str(exc), 409)
    except StaleDataError:  # a save that raced ours won between our check and our UPDATE
        db().rollback()  # the failed flush left the transaction unusable
        return Problem(CONFLICT_MESSAGE.format(what="asset"), 409)
    except DomainError as exc:
        return Problem(str(exc), 400)


def _render_form(form: AssetForm, asset, problem: Problem | None = None):
    status = problem.status if problem else (400 if form.is_submitted() else 200)
    template = "assets/_form.html" if is_htmx() else "assets/edit.html"
    return render_template(template, form=form, asset=asset, problem=problem), status


@bp.get("/export.csv")
@require_role("viewer")
@require_engagement
def export_csv():
    return csv_download(_export_rows(), inventory.EXPORT_HEADER, download_name("assets", "csv"))


@bp.get("/export.xlsx")
@require_role("viewer")
@require_engagement
def export_xlsx():
    return xlsx_download(_export_rows(), inventory.EXPORT_HEADER,
                         download_name("assets", "xlsx"), "Assets")


def _export_rows():
    """The filtered list's rows in the list's order, as the export writes them."""
    form = _filter_form()
    return inventory.export_rows(db(), *_scope(), form.to_filter(), form.ordering)
