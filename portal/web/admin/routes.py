"""Administration: the platform admin's overview and client accounts (search, create, edit,
deactivate); an account admin's settings of their own account; the branding stylesheet.

Paths are spelled out in full (no url_prefix) because the account settings and the
stylesheet live outside /admin/."""
import uuid
from functools import partial

from flask import Blueprint, Response, flash, g, render_template, request, url_for
from flask_login import current_user

from portal import client_accounts as domain
from portal.accounts import active_accounts
from portal.audit import latest_entries
from portal.errors import DomainError
from portal.locking import EditConflict
from portal.tenancy import require_role
from portal.web.admin.forms import AccountForm, AccountSettingsForm, NewAccountForm
from portal.web.htmx import redirect_or_refresh
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("admin", __name__)
SEARCH_LENGTH = 100
BRANDING_CACHE = "private, max-age=300"


@bp.get("/admin/")
@require_role("platform_admin")
def index():
    return render_template("admin/index.html", accounts=active_accounts(db()),
                           entries=latest_entries(db(), limit=50))


@bp.get("/admin/accounts")
@require_role("platform_admin")
def accounts():
    query = request.args.get("q", "")[:SEARCH_LENGTH]
    include_inactive = request.args.get("inactive") == "1"
    template = "admin/_account_table.html" if is_htmx() else "admin/accounts.html"
    return render_template(template, q=query, include_inactive=include_inactive,
                           rows=domain.search_accounts(db(), query, include_inactive))


@bp.route("/admin/accounts/new", methods=["GET", "POST"], endpoint="create_account")
@require_role("platform_admin")
def new_account():
    form = _form(NewAccountForm)
    page = partial(_form_page, form, heading="New client account",
                   action=url_for("admin.create_account"))
    return _save(form, page, lambda: domain.create_client_account(
        db(), form.slug.data, form.changes(), created_by=current_user.id),
        done=url_for("admin.accounts"), message=f"Created {form.name.data}.")


@bp.route("/admin/accounts/<uuid:account_id>/edit", methods=["GET", "POST"])
@require_role("platform_admin")
def edit_account(account_id: uuid.UUID):
    account = domain.account_by_id(db(), account_id)
    return _edit(_form(AccountForm, account), account, platform_admin=True,
                 heading=f"Edit {account.name}", done=url_for("admin.accounts"),
                 action=url_for("admin.edit_account", account_id=account.id))


@bp.route("/account/settings", methods=["GET", "POST"])
@require_role("admin")
def account_settings():
    account = g.tenant.account  # only ever the active account
    here = url_for("admin.account_settings")
    return _edit(_form(AccountSettingsForm, account), account, platform_admin=False,
                 heading="Account settings", action=here, done=here)


@bp.post("/admin/accounts/<uuid:account_id>/deactivate")
@require_role("platform_admin")
def deactivate_account(account_id: uuid.UUID):
    return _change_activity(account_id, domain.deactivate_account,
                            "{} is deactivated. Its data is kept: reactivate it to bring it back.")


@bp.post("/admin/accounts/<uuid:account_id>/reactivate")
@require_role("platform_admin")
def reactivate_account(account_id: uuid.UUID):
    return _change_activity(account_id, domain.reactivate_account, "{} is active again.")


@bp.get("/branding.css")
@require_role("login")
def branding_css():
    account = g.tenant.account
    # `account` in the URL only keys browser caches per account: never answer one
    # account's URL with another's colour (the user may have switched in another tab).
    current = account is not None and \
        request.args.get("account", str(account.id)) == str(account.id)
    response = Response(domain.branding_stylesheet(account.branding if current else None),
                        mimetype="text/css")
    response.headers["Cache-Control"] = BRANDING_CACHE if current else "no-store"
    return response


# --- helpers ---------------------------------------------------------------------------------

def _form(form_class, account=None):
    """The form as posted (nothing filled in from storage, so a missing lock_version is a
    conflict, not a silent overwrite), or filled from `account` to be shown."""
    if request.method == "POST":
        return form_class()
    return form_class(data=form_class.initial_data(account) if account else None)


def _form_page(form, *, heading: str, action: str, account=None, status: int = 200,
               error: str | None = None):
    template = "admin/_account_form.html" if is_htmx() else "admin/account_form.html"
    # `edited`, not `account`: base.html uses that name for the active account.
    return render_template(template, form=form, heading=heading, action=action,
                           edited=account, error=error), status


def _save(form, page, save, *, done: str, message: str):
    """Show the form; or validate and save it, then go to `done`.  Invalid input shows
    the form again with 400, someone else's newer save with 409 (with what was typed)."""
    if request.method != "POST":
        return page()
    if not form.validate_on_submit():
        return page(status=400)
    try:
        save()
    except DomainError as exc:
        db().rollback()  # a failed flush leaves the session unusable until rolled back
        return page(status=409 if isinstance(exc, EditConflict) else 400, error=str(exc))
    flash(message, "success")
    return redirect_or_refresh(done)


def _edit(form, account, *, platform_admin: bool, heading: str, action: str, done: str):
    page = partial(_form_page, form, heading=heading, action=action, account=account)
    return _save(form, page, lambda: domain.update_account(
        db(), account, form.lock_version.data, form.changes(), platform_admin=platform_admin),
        done=done, message="Saved.")


def _change_activity(account_id: uuid.UUID, change, message: str):
    account = domain.account_by_id(db(), account_id)
    try:
        change(db(), account, request.form.get("lock_version"))
    except EditConflict:
        db().rollback()  # then the 409 page can still render the layout
        raise
    flash(message.format(account.name), "success")
    return redirect_or_refresh(url_for("admin.accounts", inactive=1))
