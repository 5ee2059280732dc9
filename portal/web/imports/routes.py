"""Inventory imports of the active engagement: upload, mapping review, acceptance, errors,
and blank templates."""
import uuid

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect,
                   render_template, url_for)
from flask_login import current_user

from portal.discovery import imports
from portal.discovery.exports import error_rows_csv, template_csv, template_xlsx
from portal.discovery.fields import BYTES_PER_UNIT, FIELDS, PERCENT_UNITS
from portal.discovery.parsing import (InventoryFileError, InventoryTooLargeError, ParseLimits,
                                      open_inventory)
from portal.discovery.uploads import storage_path
from portal.engagement_data import imports_of
from portal.errors import DomainError
from portal.tenancy import require_engagement, require_role
from portal.web.htmx import redirect_or_refresh
from portal.web.imports.forms import AcceptForm, MappingForm, UploadForm
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("imports", __name__, url_prefix="/imports")
UNITS = (*BYTES_PER_UNIT, *PERCENT_UNITS)


def _import_or_404(import_id: uuid.UUID):
    return imports.import_in(db(), g.tenant.account.id, g.tenant.engagement.id, import_id)


def _index(form: UploadForm, status: int = 200):
    rows = imports_of(db(), g.tenant.account.id, g.tenant.engagement.id)
    template = "imports/_upload.html" if is_htmx() else "imports/index.html"
    return render_template(template, rows=rows, form=form), status


@bp.get("/")
@require_role("viewer")
@require_engagement
def index():
    return _index(UploadForm())


@bp.post("/upload")
@require_role("member")
@require_engagement
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return _index(form, 400)
    try:
        data_import = _stage_upload(form.file.data)
    except (InventoryFileError, DomainError) as exc:
        db().rollback()
        form.file.errors.append(str(exc))
        return _index(form, 413 if isinstance(exc, InventoryTooLargeError) else 400)
    flash(f"{data_import.total_rows:,} rows staged. Check the mapping, then accept it.",
          "success")
    return redirect_or_refresh(url_for("imports.review", import_id=data_import.id))


def _stage_upload(file_storage):
    """Store the upload under a server-chosen name and stage it; on failure no file stays."""
    settings = current_app.extensions["portal"].settings
    path = storage_path(settings.instance_path, g.tenant.account.id, file_storage.filename)
    file_storage.save(path)
    try:
        upload = imports.Uploaded(path, file_storage.filename, path.stat().st_size)
        parsed = open_inventory(path, upload.original_filename,
                                ParseLimits(max_bytes=settings.max_upload_bytes))
        return imports.create_import(db(), g.tenant.account.id, g.tenant.engagement.id,
                                     current_user.id, upload, parsed)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@bp.get("/<uuid:import_id>")
@require_role("viewer")
@require_engagement
def show(import_id: uuid.UUID):
    return render_template("imports/show.html", data_import=_import_or_404(import_id),
                           accept_form=AcceptForm())


def _review(data_import, status: int = 200, error: str | None = None):
    template = "imports/_mapping.html" if is_htmx() else "imports/review.html"
    return render_template(template, data_import=data_import, fields=FIELDS,
                           units=UNITS, mappings=imports.mappings_of(data_import),
                           preview=imports.preview(db(), data_import),
                           accept_form=AcceptForm(), mapping_form=MappingForm(),
                           error=error), status


@bp.get("/<uuid:import_id>/review")
@require_role("viewer")
@require_engagement
def review(import_id: uuid.UUID):
    return _review(_import_or_404(import_id))


@bp.post("/<uuid:import_id>/mapping")
@require_role("member")
@require_engagement
def change_mapping(import_id: uuid.UUID):
    data_import = _import_or_404(import_id)
    form = MappingForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        imports.change_mapping(db(), data_import, form.source.data, form.target.data or None,
                               form.unit.data or None)
    except DomainError as exc:
        db().rollback()
        return _review(_import_or_404(import_id), 400, str(exc))
    return _review(data_import) if is_htmx() else \
        redirect(url_for("imports.review", import_id=import_id))


@bp.post("/<uuid:import_id>/accept")
@require_role("member")
@require_engagement
def accept(import_id: uuid.UUID):
    data_import = _import_or_404(import_id)
    form = AcceptForm()
    if not form.validate_on_submit():
        abort(400)
    imports.accept(db(), data_import, all_or_nothing=form.all_or_nothing.data)
    flash(_outcome(data_import), "success" if data_import.upload_status == "validated"
          else "warning")
    return redirect_or_refresh(url_for("imports.show", import_id=import_id))


def _outcome(data_import) -> str:
    if data_import.upload_status == "rejected":
        return (f"Nothing imported: {data_import.invalid_rows:,} rows failed and you chose "
                "all or nothing. Fix the file and upload it again.")
    return (f"{data_import.valid_rows:,} rows ready for discovery; "
            f"{data_import.invalid_rows:,} failed.")


@bp.get("/<uuid:import_id>/errors.csv")
@require_role("viewer")
@require_engagement
def errors_csv(import_id: uuid.UUID):
    data_import = _import_or_404(import_id)
    name = f"failed-rows-{data_import.id.hex[:8]}.csv"
    return Response(error_rows_csv(db(), data_import), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/template.<fmt>")
@require_role("viewer")
def template(fmt: str):
    if fmt == "csv":
        return Response(template_csv(), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="inventory-template.csv"'})
    if fmt == "xlsx":
        return Response(template_xlsx(), headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": 'attachment; filename="inventory-template.xlsx"'})
    abort(404)
